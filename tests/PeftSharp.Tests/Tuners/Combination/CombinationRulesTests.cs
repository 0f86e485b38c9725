using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Combination;
using PeftSharp.Tuners.IA3;
using PeftSharp.Tuners.Lora;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners.Combination;

/// <summary>
/// What add_weighted_adapter must do beyond the fixtures: DARE's density-1 identities, its kept fraction and its seed,
/// task negation, rsLoRA sources, the SVD family against a truncation computed here, svd_clamp, IA3, and every refusal
/// being one clear message that leaves the model as it was.
/// </summary>
public class CombinationRulesTests
{
    private static LoraConfig Lora(int r, double alpha, bool rslora = false, bool dora = false, string targets = "q_proj,v_proj") =>
        LoraConfig.Read(new JsonConfig(new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = r, ["lora_alpha"] = alpha, ["init_lora_weights"] = false, ["use_rslora"] = rslora, ["use_dora"] = dora,
            ["task_type"] = "CAUSAL_LM", ["target_modules"] = new JsonArray(targets.Split(',').Select(t => (JsonNode?)t).ToArray()),
        }, "test"));

    /// <summary>A tiny Llama with adapters x (r=4, alpha=8) and y (r=4, alpha=16, or as given), both random.</summary>
    private static (PretrainedModel Model, PeftModel Peft) TwoAdapters(LoraConfig? y = null)
    {
        var model = TinyModels.Create(TinyModels.Llama());
        manual_seed(11);
        var peft = PeftModel.Create(model, Lora(4, 8), "x");
        manual_seed(12);
        peft.AddAdapter("y", y ?? Lora(4, 16));
        return (model, peft);
    }

    private static LoraLayer Layer(PretrainedModel m, string path = "model.layers.0.self_attn.q_proj") => (LoraLayer)ModuleTree.Get(m, path);

    /// <summary>s BA of one adapter at one layer, float32 [out, in].</summary>
    private static Tensor Delta(LoraLayer l, string adapter) =>
        l.B(adapter).weight.detach().matmul(l.A(adapter).weight.detach()).mul(l.ScalingOf(adapter));

    private static byte[] SavedBytes(PeftModel peft, string adapter)
    {
        var dir = Directory.CreateTempSubdirectory("combine-").FullName;
        try
        {
            peft.Save(dir, [adapter]);
            return File.ReadAllBytes(Path.Combine(PeftModel.AdapterFolder(dir, adapter), PeftModel.WeightsFile));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData(CombinationType.DareLinear, CombinationType.Linear)]
    [InlineData(CombinationType.DareTies, CombinationType.Ties)]
    [InlineData(CombinationType.DareLinearSvd, CombinationType.Svd)]
    [InlineData(CombinationType.DareTiesSvd, CombinationType.TiesSvd)]
    public void DareAtDensityOneIsItsDeterministicTwin(CombinationType dare, CombinationType twin)
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters();
        using var _ = model;
        peft.AddWeightedAdapter(["x", "y"], [0.7, 0.4], "dare", new AdapterCombination(dare) { Density = 1, Seed = 5 });
        peft.AddWeightedAdapter(["x", "y"], [0.7, 0.4], "twin", new AdapterCombination(twin) { Density = twin.UsesDensity() ? 1 : null });
        Assert.Equal(SavedBytes(peft, "twin"), SavedBytes(peft, "dare"));
    }

    [Fact]
    public void DareKeepsTheDensityAndTheSameSeedGivesTheSameFile()
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters();
        using var _ = model;
        // One adapter, linear: A' = √(ws)·(mask ∘ A)/density, so the kept fraction of A' is the mask's.
        peft.AddWeightedAdapter(["x"], [1.0], "d1", new AdapterCombination(CombinationType.DareLinear) { Density = 0.3, Seed = 7 });
        peft.AddWeightedAdapter(["x"], [1.0], "d2", new AdapterCombination(CombinationType.DareLinear) { Density = 0.3, Seed = 7 });
        peft.AddWeightedAdapter(["x"], [1.0], "d3", new AdapterCombination(CombinationType.DareLinear) { Density = 0.3, Seed = 8 });
        Assert.Equal(SavedBytes(peft, "d1"), SavedBytes(peft, "d2"));
        Assert.NotEqual(SavedBytes(peft, "d1"), SavedBytes(peft, "d3"));

        long kept = 0, total = 0;
        foreach (var (_, layer) in peft.Layers)
        {
            if (layer is not LoraLayer l || !l.AdapterNames.Contains("d1")) continue;
            var a = l.A("d1").weight.detach();
            kept += a.ne(0).sum().item<long>();
            total += a.numel();
            // The kept entries are rescaled by 1/density: A' = √s · A / 0.3 where kept.
            var expected = l.A("x").weight.detach().mul(Math.Sqrt(l.ScalingOf("x")) / 0.3);
            var where = a.ne(0);
            Assert.True(a.masked_select(where).allclose(expected.masked_select(where), 1e-5, 1e-6));
        }
        double fraction = (double)kept / total, sigma = Math.Sqrt(0.3 * 0.7 / total);
        Assert.InRange(fraction, 0.3 - 5 * sigma, 0.3 + 5 * sigma);
    }

    [Theory]
    [InlineData(CombinationType.Linear)]
    [InlineData(CombinationType.Cat)]
    [InlineData(CombinationType.Svd)]
    [InlineData(CombinationType.MagnitudePrune)]
    public void ANegativeWeightNegates(CombinationType type)
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters();
        using var _ = model;
        peft.AddWeightedAdapter(["x"], [-1.0], "neg", new AdapterCombination(type) { Density = type.UsesDensity() ? 1 : null });
        var l = Layer(model);
        // scaling of the combination is 1: ΔW = B'A'.
        Assert.Equal(1.0, l.ScalingOf("neg"));
        Assert.True(Delta(l, "neg").allclose(Delta(l, "x").neg(), 1e-5, 1e-6), $"{type}: -1 · ΔW_x expected");
    }

    [Fact]
    public void TheSvdFamilyIsTheTruncationOfTheWeightedUpdatesWithEachScalingOnce()
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters();
        using var _ = model;
        peft.AddWeightedAdapter(["x", "y"], [0.6, 0.5], "svd", new AdapterCombination(CombinationType.Svd) { SvdRank = 3 });
        peft.AddWeightedAdapter(["x", "y"], [0.6, 0.5], "full", new AdapterCombination(CombinationType.Svd) { SvdRank = 8 });
        peft.AddWeightedAdapter(["x", "y"], [0.6, 0.5], "peft018", new AdapterCombination(CombinationType.Svd) { SvdRank = 8, Peft018SvdScaling = true });
        var l = Layer(model);
        var sum = Delta(l, "x").mul(0.6).add(Delta(l, "y").mul(0.5));
        var (u, s, vh) = linalg.svd(sum, fullMatrices: false);
        var rank3 = u[.., ..3].mul(s[..3]).matmul(vh[..3]);
        Assert.True(Delta(l, "svd").allclose(rank3, 1e-4, 1e-5));
        Assert.True(Delta(l, "full").allclose(sum, 1e-4, 1e-5), "rank 8 >= 4 + 4 holds the sum exactly");
        var doubled = Delta(l, "x").mul(0.6 * l.ScalingOf("x")).add(Delta(l, "y").mul(0.5 * l.ScalingOf("y")));
        Assert.True(Delta(l, "peft018").allclose(doubled, 1e-4, 1e-5), "PEFT 0.18.1's weights w·s on ΔW");
        Assert.Equal(8, l.RankOf("full"));
    }

    [Fact]
    public void SvdClampBoundsTheFactorsByTheirQuantile()
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters();
        using var _ = model;
        peft.AddWeightedAdapter(["x", "y"], [0.6, 0.5], "plain", new AdapterCombination(CombinationType.Svd));
        peft.AddWeightedAdapter(["x", "y"], [0.6, 0.5], "clamped", new AdapterCombination(CombinationType.Svd) { SvdClamp = 0.9 });
        var l = Layer(model);
        var entries = cat([l.B("plain").weight.detach().flatten(), l.A("plain").weight.detach().flatten()], 0);
        double hi = quantile(entries, tensor(0.9f)).item<float>();
        var clamped = cat([l.B("clamped").weight.detach().flatten(), l.A("clamped").weight.detach().flatten()], 0);
        Assert.True(clamped.abs().max().item<float>() <= hi + 1e-6);
        Assert.True(clamped.allclose(entries.clamp(-hi, hi), 1e-5, 1e-6));
    }

    [Fact]
    public void AnRsLoraSourceGivesAPlainLoraWithTheSameUpdate()
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters(Lora(4, 16, rslora: true));
        using var _ = model;
        peft.AddWeightedAdapter(["y"], [1.0], "plain", new AdapterCombination(CombinationType.Cat));
        var config = (LoraConfig)peft.Configs["plain"];
        Assert.False(config.UseRsLora);
        Assert.Equal(config.R, config.LoraAlpha);
        var l = Layer(model);
        Assert.Equal(16 / 2.0, l.ScalingOf("y")); // rsLoRA: alpha / √r
        Assert.True(Delta(l, "plain").allclose(Delta(l, "y"), 1e-5, 1e-6));
    }

    [Fact]
    public void CatSumsRanksAndIsExact()
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters(Lora(2, 6));
        using var _ = model;
        peft.AddWeightedAdapter(["x", "y"], [0.7, -0.3], "cat", new AdapterCombination(CombinationType.Cat));
        var l = Layer(model);
        Assert.Equal(6, l.RankOf("cat"));
        Assert.True(Delta(l, "cat").allclose(Delta(l, "x").mul(0.7).sub(Delta(l, "y").mul(0.3)), 1e-5, 1e-6));
    }

    [Fact]
    public void TargetsAreUnitedAndAModuleOnlyOneAdapterAdaptsTakesThatOne()
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters(Lora(4, 16, targets: "v_proj,o_proj"));
        using var _ = model;
        peft.AddWeightedAdapter(["x", "y"], [0.5, 2.0], "lin", new AdapterCombination(CombinationType.Linear));
        Assert.Equal(["o_proj", "q_proj", "v_proj"], ((LoraConfig)peft.Configs["lin"]).Targets.TargetList);
        var q = Layer(model, "model.layers.0.self_attn.q_proj");
        var o = Layer(model, "model.layers.0.self_attn.o_proj");
        Assert.True(Delta(q, "lin").allclose(Delta(q, "x").mul(0.5), 1e-5, 1e-6));
        Assert.True(Delta(o, "lin").allclose(Delta(o, "y").mul(2.0), 1e-5, 1e-6));
    }

    [Fact]
    public void RefusalsAreOneClearMessageAndChangeNothing()
    {
        using var scope = NewDisposeScope();
        var (model, peft) = TwoAdapters(Lora(8, 16));
        using var _ = model;
        string[] before = ["x", "y"];
        void Refused(string expected, Action act)
        {
            var e = Assert.Throws<PeftException>(act);
            Assert.Contains(expected, e.Message);
            Assert.Equal(before, peft.Configs.Keys.Order());
            Assert.All(peft.Layers, l => Assert.DoesNotContain("c", l.Layer.AdapterNames));
        }
        Refused("need equal ranks, but at model.layers.0.self_attn.q_proj \"x\" has r=4, \"y\" has r=8",
            () => peft.AddWeightedAdapter(["x", "y"], [1, 1], "c", new AdapterCombination(CombinationType.Ties) { Density = 0.5 }));
        Refused("density must be in (0, 1], got 1.5", () => peft.AddWeightedAdapter(["x", "y"], [1, 1], "c", new AdapterCombination(CombinationType.TiesSvd) { Density = 1.5 }));
        Refused("give a density", () => peft.AddWeightedAdapter(["x", "y"], [1, 1], "c", new AdapterCombination(CombinationType.DareLinearSvd)));
        Refused("1 weight(s) for 2 adapter(s)", () => peft.AddWeightedAdapter(["x", "y"], [1], "c", new AdapterCombination(CombinationType.Cat)));
        Refused("no adapter \"z\"", () => peft.AddWeightedAdapter(["x", "z"], [1, 1], "c", new AdapterCombination(CombinationType.Cat)));
        Refused("does not prune, so density does not apply", () => peft.AddWeightedAdapter(["x", "y"], [1, 1], "c", new AdapterCombination(CombinationType.Cat) { Density = 0.5 }));
        Refused("adapter \"x\" already exists", () => peft.AddWeightedAdapter(["x", "y"], [1, 1], "x", new AdapterCombination(CombinationType.Cat)));
        peft.AddAdapter("dora", Lora(4, 8, dora: true));
        before = ["dora", "x", "y"];
        Refused("adapter \"dora\" cannot be combined: it uses DoRA", () => peft.AddWeightedAdapter(["x", "dora"], [1, 1], "c", new AdapterCombination(CombinationType.Svd)));
    }

    [Fact]
    public void Ia3CombinesLinearlyWithAMissingVectorCountingAsTheIdentity()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        IA3Config Ia3(string targets, string ff) => IA3Config.Read(new JsonConfig(new JsonObject
        {
            ["peft_type"] = "IA3", ["init_ia3_weights"] = false, ["task_type"] = "CAUSAL_LM",
            ["target_modules"] = new JsonArray(targets.Split(',').Select(t => (JsonNode?)t).ToArray()),
            ["feedforward_modules"] = new JsonArray(ff.Split(',').Select(t => (JsonNode?)t).ToArray()),
        }, "test"));
        var peft = PeftModel.Create(model, Ia3("k_proj,down_proj", "down_proj"), "a");
        peft.AddAdapter("b", Ia3("v_proj,down_proj", "down_proj"));
        peft.AddWeightedAdapter(["a", "b"], [0.25, 0.75], "ab", new AdapterCombination(CombinationType.Linear));
        var config = (IA3Config)peft.Configs["ab"];
        Assert.Equal(["down_proj", "k_proj", "v_proj"], config.Targets.TargetList);
        Assert.Equal(["down_proj"], config.FeedforwardList);
        var k = (IA3Layer)ModuleTree.Get(model, "model.layers.0.self_attn.k_proj");
        var down = (IA3Layer)ModuleTree.Get(model, "model.layers.0.mlp.down_proj");
        Assert.True(k.Vector("ab").allclose(k.Vector("a").mul(0.25).add(0.75), 1e-6, 1e-7));
        Assert.True(down.Vector("ab").allclose(down.Vector("a").mul(0.25).add(down.Vector("b").mul(0.75)), 1e-6, 1e-7));
        Assert.Contains("combine linearly", Assert.Throws<PeftException>(() =>
            peft.AddWeightedAdapter(["a", "b"], [1, 1], "t", new AdapterCombination(CombinationType.Ties) { Density = 0.5 })).Message);
    }

    [Fact]
    public void OtherMethodsAndMixedMethodsAreRefused()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        var peft = PeftModel.Create(model, Lora(4, 8), "x");
        peft.AddAdapter("i", IA3Config.Read(new JsonConfig(new JsonObject { ["peft_type"] = "IA3", ["task_type"] = "CAUSAL_LM" }, "t")));
        Assert.Contains("adapters of different methods cannot be combined (\"x\" is LORA, \"i\" is IA3)",
            Assert.Throws<PeftException>(() => peft.AddWeightedAdapter(["x", "i"], [1, 1], "c", new AdapterCombination(CombinationType.Linear))).Message);
    }
}
