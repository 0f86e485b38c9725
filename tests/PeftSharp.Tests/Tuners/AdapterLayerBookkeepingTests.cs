using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.AdaLora;
using PeftSharp.Tuners.IA3;
using PeftSharp.Tuners.LoHa;
using PeftSharp.Tuners.LoKr;
using PeftSharp.Tuners.Lora;
using PeftSharp.Tuners.Vera;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// The bookkeeping contract every wrapper layer shares (<see cref="AdapterLayer"/>), run against one layer of each
/// kind around an nn.Linear, each with two adapters "a" and "b" that change the output.
/// </summary>
[Collection(SerialRandomness.Name)] // adapters are drawn from the global generator; draw nothing while seeded tests run
public class AdapterLayerBookkeepingTests
{
    private const long In = 6, Out = 5, Batch = 3;

    /// <summary>One kind of layer: how to build it, and which parts of the contract it has.</summary>
    private sealed record Kind(Func<Linear, AdapterLayer> Create, bool Merges, bool PerRow);

    private static JsonConfig Json(string peftType, JsonObject fields)
    {
        fields["peft_type"] = peftType;
        fields["target_modules"] = new JsonArray("x");
        return new JsonConfig(fields, "test adapter_config.json");
    }

    /// <summary>The layer with adapters "a" and "b" added the method's way.</summary>
    private static TLayer WithAB<TLayer>(TLayer layer, Action<TLayer, string> add) where TLayer : AdapterLayer
    {
        add(layer, "a");
        add(layer, "b");
        return layer;
    }

    private static readonly Dictionary<string, Kind> Kinds = new()
    {
        ["LoRA"] = new(l => WithAB(new LoraLayer(l), (layer, a) =>
            layer.AddAdapter(a, 2, 4, LoraConfig.Read(Json("LORA", new JsonObject { ["init_lora_weights"] = false })))), Merges: true, PerRow: true),
        ["LoRA with DoRA"] = new(l => WithAB(new LoraLayer(l), (layer, a) =>
            layer.AddAdapter(a, 2, 4, LoraConfig.Read(Json("LORA", new JsonObject { ["init_lora_weights"] = false, ["use_dora"] = true })))), Merges: true, PerRow: false),
        ["IA3"] = new(l => WithAB(new IA3Layer(l, isFeedforward: false), (layer, a) => layer.AddAdapter(a, identityInit: false)), Merges: true, PerRow: true),
        ["IA3 feed-forward"] = new(l => WithAB(new IA3Layer(l, isFeedforward: true), (layer, a) => layer.AddAdapter(a, identityInit: false)), Merges: true, PerRow: true),
        ["LoHa"] = new(l => WithAB(new LoHaLayer(l), (layer, a) =>
            layer.AddAdapter(a, 2, 4, LoHaConfig.Read(Json("LOHA", new JsonObject { ["init_weights"] = false })))), Merges: true, PerRow: false),
        ["LoKr"] = new(l => WithAB(new LoKrLayer(l), (layer, a) =>
            layer.AddAdapter(a, 2, 4, LoKrConfig.Read(Json("LOKR", new JsonObject { ["init_weights"] = false })))), Merges: true, PerRow: false),
        ["VeRA"] = new(l => WithAB(new VeraLayer(l), (layer, a) =>
            layer.AddAdapter(a, randn(2, In), randn(Out, 2), VeraConfig.Read(Json("VERA", new JsonObject { ["init_weights"] = false })))), Merges: true, PerRow: false),
        ["AdaLoRA"] = new(l => WithAB(new AdaLoraLayer(l), (layer, a) =>
            layer.AddAdapter(a, 2, AdaLoraConfig.Read(Json("ADALORA", new JsonObject { ["init_lora_weights"] = false, ["init_r"] = 2 })))), Merges: true, PerRow: false),
        // Each copy starts equal to the original; moving its weights makes "a", "b" and the base tell apart.
        ["modules_to_save"] = new(l => WithAB(new ModulesToSaveWrapper(l, "head"), (layer, a) =>
        {
            layer.AddAdapter(a);
            using (no_grad()) foreach (var (_, p) in layer.Copy(a).named_parameters()) p.add_(randn_like(p));
        }), Merges: false, PerRow: true),
    };

    public static TheoryData<string> KindNames() => new(Kinds.Keys);

    /// <summary>The layer, its input, and the wrapped linear's own output for it (computed before wrapping).</summary>
    private static (AdapterLayer Layer, Linear Linear, Tensor X, Tensor Base) Setup(string kind)
    {
        manual_seed(20240611);
        var linear = nn.Linear(In, Out);
        var x = randn(Batch, In);
        Tensor baseOut;
        using (no_grad()) baseOut = linear.forward(x).clone();
        return (Kinds[kind].Create(linear), linear, x, baseOut);
    }

    private static Tensor Forward(AdapterLayer layer, Tensor x, IReadOnlyList<string> active)
    {
        layer.ActiveAdapters = active;
        using (no_grad()) return layer.forward(x).clone();
    }

    private static void Close(Tensor expected, Tensor actual, double tolerance = 1e-5) =>
        Assert.True(actual.allclose(expected, tolerance, tolerance), $"max difference {actual.sub(expected).abs().max().item<float>()}");

    [Theory]
    [MemberData(nameof(KindNames))]
    public void WrappingKeepsTheOriginalUnderPeftsName(string kind)
    {
        using var scope = NewDisposeScope();
        var (layer, linear, _, _) = Setup(kind);
        var baseName = layer is ModulesToSaveWrapper ? "original_module" : "base_layer";
        Assert.Same(linear, layer.BaseLayer);
        // Registered once, under PEFT's name (not also under the C# field holding it).
        Assert.Equal(baseName + ".weight", Assert.Single(layer.named_parameters(), p => ReferenceEquals(p.parameter, linear.weight)).name);
        Assert.Equal(["a", "b"], layer.AdapterNames);
    }

    [Theory]
    [MemberData(nameof(KindNames))]
    public void DisabledGivesTheBaseOutput(string kind)
    {
        using var scope = NewDisposeScope();
        var (layer, _, x, baseOut) = Setup(kind);
        Assert.False(Forward(layer, x, ["a"]).allclose(baseOut, 1e-4, 1e-4), "adapter a changes the output");
        layer.Disabled = true;
        Close(baseOut, Forward(layer, x, ["a"]), 0);
        layer.RowAdapters = ["a", AdapterLayer.BaseRow, "b"];
        Close(baseOut, Forward(layer, x, ["a"]), 0); // disabled wins over per-row adapters, as in PEFT
        layer.RowAdapters = null;
        layer.Disabled = false;

        if (!Kinds[kind].Merges) return;
        layer.Merge(["a"]);
        layer.Disabled = true;
        Close(baseOut, Forward(layer, x, ["a"]));
        Assert.Empty(layer.MergedAdapters); // disabling takes merged adapters back out first
    }

    [Theory]
    [MemberData(nameof(KindNames))]
    public void AMergedAdapterCannotBeDeleted(string kind)
    {
        using var scope = NewDisposeScope();
        var (layer, _, _, _) = Setup(kind);
        layer.ActiveAdapters = ["a", "b"];
        layer.Merge(["a"]);
        if (!Kinds[kind].Merges)
        {
            Assert.Empty(layer.MergedAdapters);
            layer.DeleteAdapter("a");
            Assert.Equal(["b"], layer.AdapterNames);
            return;
        }
        Assert.Equal(["a"], layer.MergedAdapters);
        var e = Assert.Throws<PeftException>(() => layer.DeleteAdapter("a"));
        Assert.Contains("adapter \"a\" is merged; unmerge it before deleting", e.Message);
        Assert.Equal(["a", "b"], layer.AdapterNames);
        layer.DeleteAdapter("b");
        Assert.Equal(["a"], layer.ActiveAdapters);
        layer.Unmerge();
        layer.DeleteAdapter("a");
        Assert.Empty(layer.AdapterNames);
        Assert.Empty(layer.ActiveAdapters);
        Assert.DoesNotContain(layer.named_parameters(), p => p.name.Split('.').Intersect(["a", "b"]).Any());
    }

    [Theory]
    [MemberData(nameof(KindNames))]
    public void MergeThenUnmergeRestoresTheBaseWeight(string kind)
    {
        using var scope = NewDisposeScope();
        var (layer, linear, x, _) = Setup(kind);
        var weight = linear.weight.detach().clone();
        var bias = linear.bias!.detach().clone();
        var unmerged = Forward(layer, x, ["a"]);

        layer.Merge(["a", "a", "unknown"]); // unknown and already merged names are skipped
        Assert.Equal(Kinds[kind].Merges ? ["a"] : [], layer.MergedAdapters);
        if (Kinds[kind].Merges) Assert.False(linear.weight.allclose(weight, 1e-4, 1e-4), "merging changed the weight");
        Close(unmerged, Forward(layer, x, ["a"]), 1e-4);
        layer.Merge(["b"]);
        Assert.Equal(Kinds[kind].Merges ? ["a", "b"] : [], layer.MergedAdapters);

        layer.Unmerge(); // last merged first, so that DoRA's rescaling undoes in order
        Assert.Empty(layer.MergedAdapters);
        Close(weight, linear.weight.detach());
        Close(bias, linear.bias!.detach());
        Close(unmerged, Forward(layer, x, ["a"]), 1e-4);
    }

    [Theory]
    [MemberData(nameof(KindNames))]
    public void ActiveAdaptersSwitch(string kind)
    {
        using var scope = NewDisposeScope();
        var (layer, linear, x, baseOut) = Setup(kind);
        var a = Forward(layer, x, ["a"]);
        var b = Forward(layer, x, ["b"]);
        Assert.False(a.allclose(b, 1e-4, 1e-4), "a and b differ");
        Close(baseOut, Forward(layer, x, []), 0);
        Close(baseOut, Forward(layer, x, ["not here"]), 0);
        Close(a, Forward(layer, x, ["a"]), 0);
        Close(b, Forward(layer, x, ["not here", "b"]), 0);

        // Through a forward hook the base output comes in computed; the result is the same.
        layer.ActiveAdapters = ["a"];
        using (no_grad()) Close(a, layer.ForwardWithBase(x, linear.forward(x)));
    }

    [Theory]
    [MemberData(nameof(KindNames))]
    public void BaseRowsOfAMixedBatchGiveTheBaseOutput(string kind)
    {
        using var scope = NewDisposeScope();
        var (layer, _, x, baseOut) = Setup(kind);
        var a = Forward(layer, x, ["a"]);
        var b = Forward(layer, x, ["b"]);
        layer.RowAdapters = ["a", AdapterLayer.BaseRow, "b"];
        if (!Kinds[kind].PerRow)
        {
            var e = Assert.Throws<PeftException>(() => Forward(layer, x, ["a"]));
            Assert.Contains("per-row adapters are not supported", e.Message);
            return;
        }
        var mixed = Forward(layer, x, ["b"]);
        Close(a[0], mixed[0]);
        Close(baseOut[1], mixed[1]);
        Close(b[2], mixed[2]);

        layer.RowAdapters = [AdapterLayer.BaseRow, "not here", AdapterLayer.BaseRow];
        Close(baseOut, Forward(layer, x, ["a"]), 0);

        layer.RowAdapters = ["a", "b"];
        var count = Assert.Throws<PeftException>(() => Forward(layer, x, ["a"]));
        Assert.Contains("2 adapter names for a batch of 3 rows", count.Message);
    }
}
