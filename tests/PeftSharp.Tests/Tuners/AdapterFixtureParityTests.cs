using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// Every adapter fixture of a supported peft_type, loaded onto its base model: outputs equal PEFT's
/// unmerged and merged; unloading gives the base back bit for bit; saving again gives the same file.
/// A new method adds no code here: its fixtures join the table once its tuner is registered.
/// </summary>
public class AdapterFixtureParityTests
{
    public static TheoryData<string, string> Adapters()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in new[] { "gpt2", "llama", "bert", "t5" })
        {
            var root = Path.Combine(Fixtures.Model(model), "adapters");
            foreach (var config in Directory.EnumerateFiles(root, PeftModel.ConfigFile, SearchOption.AllDirectories).Order())
            {
                var type = JsonNode.Parse(File.ReadAllText(config))!["peft_type"]!.GetValue<string>();
                if (TunerRegistry.Supported.Contains(type)) data.Add(model, Path.GetRelativePath(root, Path.GetDirectoryName(config)!));
            }
        }
        return data;
    }

    private static Dictionary<string, Tensor> Run(PretrainedModel model, ModelInputs inputs)
    {
        using (no_grad()) return model.forward(inputs).Named().ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    private static void AssertClose(Dictionary<string, Tensor> ours, SafetensorsFile reference, string prefix, Tensor mask, string what)
    {
        var keys = reference.Keys.Where(k => prefix.Length == 0 ? !k.StartsWith("merged_", StringComparison.Ordinal) : k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            var err = Parity.MaxRelativeError(ours[key[prefix.Length..]], reference.Load(key), mask);
            Assert.True(err < Parity.Tolerance, $"{what} {key}: max relative error {err:E3}");
        }
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public void UnmergedMergedAndUnloadedOutputsMatch(string fixture, string adapter)
    {
        using var scope = NewDisposeScope();
        var dir = Path.Combine(Fixtures.Model(fixture), "adapters", adapter);
        using var model = AutoModel.FromPretrained(Fixtures.Model(fixture));
        var inputs = ModelInputsFile.Load(Fixtures.Inputs(fixture), model.InputEmbeddings.weight!.shape[0]);
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        using var reference = SafetensorsFile.Open(Path.Combine(dir, "reference_outputs.safetensors"));

        var peft = PeftModel.Load(model, dir);
        AssertClose(Run(model, inputs), reference, "", inputs.AttentionMask!, $"{fixture}/{adapter} unmerged");
        peft.Unload();
        foreach (var (name, p) in model.named_parameters())
            Assert.True(Same(before[name], p), $"{name} differs after load + unload");
        Assert.Equal(before.Keys.Order(), model.named_parameters().Select(p => p.name).Order());

        if (!reference.Contains("merged_logits")) return;
        peft = PeftModel.Load(model, dir);
        peft.MergeAdapter();
        AssertClose(Run(model, inputs), reference, "merged_", inputs.AttentionMask!, $"{fixture}/{adapter} merged");
        peft.UnmergeAdapter();
        AssertClose(Run(model, inputs), reference, "", inputs.AttentionMask!, $"{fixture}/{adapter} unmerged again");
        peft.Unload();
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public void SavingALoadedAdapterGivesTheSameFiles(string fixture, string adapter)
    {
        using var scope = NewDisposeScope();
        var dir = Path.Combine(Fixtures.Model(fixture), "adapters", adapter);
        using var model = AutoModel.FromPretrained(Fixtures.Model(fixture));
        var peft = PeftModel.Load(model, dir);
        var outDir = Directory.CreateTempSubdirectory("peft-save-").FullName;
        try
        {
            peft.Save(outDir);
            using var original = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile));
            using var saved = SafetensorsFile.Open(Path.Combine(outDir, PeftModel.WeightsFile));
            Assert.Equal(original.Keys.Order(), saved.Keys.Order());
            foreach (var key in original.Keys)
                Assert.True(Same(original.Load(key), saved.Load(key)), key);
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir, PeftModel.WeightsFile)), File.ReadAllBytes(Path.Combine(outDir, PeftModel.WeightsFile)));

            var a = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, PeftModel.ConfigFile)))!.AsObject();
            var b = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, PeftModel.ConfigFile)))!.AsObject();
            Assert.Equal(a.Select(kv => kv.Key).Order(), b.Select(kv => kv.Key).Order());
            foreach (var (key, value) in a)
                Assert.True(JsonNode.DeepEquals(value, b[key]) || Numeric(value) == Numeric(b[key]), $"{key}: {value?.ToJsonString()} vs {b[key]?.ToJsonString()}");
        }
        finally
        {
            Directory.Delete(outDir, true);
        }
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static double? Numeric(JsonNode? n) => n is JsonValue v && v.TryGetValue(out double d) ? d : null;
}
