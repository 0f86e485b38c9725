using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// Every adapter fixture, loaded onto its base model: outputs equal PEFT's unmerged and merged; unloading gives the
/// base back bit for bit; saving again gives the same file. A new method adds no code here: its fixtures are rows as
/// soon as they exist, and fail until its tuner is registered. A fixture folder that is deliberately not a row is
/// named in <see cref="LeftOut"/> with the reason, and <see cref="EveryAdapterFixtureIsARowOrLeftOutForAReason"/>
/// keeps that list true, so no fixture drops out of the table unnoticed.
/// </summary>
public class AdapterFixtureParityTests
{
    /// <summary>Adapter folders (relative to a model's adapters/, for every model) that are not rows, and why.</summary>
    private static readonly Dictionary<string, string> LeftOut = new()
    {
        ["adalora_trace/trace"] = "an AdaLoRA training trace (batches, per-step records and tensors), replayed by AdaLoraTraceTests; its init/ and final/ are rows",
    };

    /// <summary>
    /// Every folder under TestData/fixtures/*/adapters that holds files, as (model, path relative to its adapters/ with
    /// '/'), e.g. ("gpt2", "multi_lora/comb_cat"). Found on disk, not from a list, so a new model or folder is seen.
    /// </summary>
    private static List<(string Model, string Adapter)> FixtureFolders() =>
        (from modelDir in Directory.EnumerateDirectories(Fixtures.Root).Order(StringComparer.Ordinal)
         let root = Path.Combine(modelDir, "adapters")
         where Directory.Exists(root)
         from dir in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
         where Directory.EnumerateFiles(dir).Any()
         select (Path.GetFileName(modelDir), Path.GetRelativePath(root, dir).Replace(Path.DirectorySeparatorChar, '/'))).ToList();

    private static string AdapterDir(string model, string adapter) => Path.Combine(Fixtures.Model(model), "adapters", adapter);

    /// <summary>Every fixture folder not left out: whatever its peft_type, so an unsupported one fails rather than vanishes.</summary>
    public static TheoryData<string, string> Adapters()
    {
        var data = new TheoryData<string, string>();
        foreach (var (model, adapter) in FixtureFolders())
            if (!LeftOut.ContainsKey(adapter)) data.Add(model, adapter);
        return data;
    }

    [Fact]
    public void EveryAdapterFixtureIsARowOrLeftOutForAReason()
    {
        var folders = FixtureFolders();
        var problems = new List<string>();
        foreach (var (model, adapter) in folders)
        {
            var config = Path.Combine(AdapterDir(model, adapter), PeftModel.ConfigFile);
            bool leftOut = LeftOut.TryGetValue(adapter, out var reason);
            if (!File.Exists(config))
            {
                if (!leftOut) problems.Add($"{model}/adapters/{adapter} has no {PeftModel.ConfigFile}: not an adapter, so name it in LeftOut with the reason");
                continue;
            }
            var type = JsonNode.Parse(File.ReadAllText(config))?["peft_type"]?.GetValue<string>() ?? "(none)";
            bool supported = TunerRegistry.Supported.Contains(type);
            if (leftOut && supported)
                problems.Add($"{model}/adapters/{adapter} is left out ({reason}), but peft_type {type} is supported now: take it out of LeftOut so it is a row");
            if (!leftOut && !supported)
                problems.Add($"{model}/adapters/{adapter} has peft_type {type}, which the registry does not support: fix the type or name the folder in LeftOut with the reason");
        }
        foreach (var name in LeftOut.Keys.Where(name => !folders.Any(f => f.Adapter == name)))
            problems.Add($"LeftOut names {name}, which is no adapter fixture folder any more: remove it");
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        var rows = Adapters().Select(row => ((string)row[0], (string)row[1])).ToList();
        Assert.NotEmpty(rows);
        Assert.Equal(folders.Count, rows.Count + folders.Count(f => LeftOut.ContainsKey(f.Adapter)));
        // Every supported method has rows, so a registered tuner cannot lose its parity check without notice.
        var typesInRows = rows.Select(r => JsonNode.Parse(File.ReadAllText(Path.Combine(AdapterDir(r.Item1, r.Item2), PeftModel.ConfigFile)))!["peft_type"]!.GetValue<string>())
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var untested = TunerRegistry.Supported.Where(t => !typesInRows.Contains(t)).ToList();
        Assert.True(untested.Count == 0, $"supported but in no row (no fixture): {string.Join(", ", untested)}");
    }

    private static Dictionary<string, Tensor> Run(PretrainedModel model, ModelInputs inputs)
    {
        using (no_grad()) return model.forward(inputs).Named().ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    private static void AssertClose(Dictionary<string, Tensor> ours, SafetensorsFile reference, string prefix, Tensor mask, string what)
    {
        var keys = reference.Keys.Where(k => prefix.Length == 0 ? !k.StartsWith("merged_", StringComparison.Ordinal) : k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(keys);
        // Prompt tuning and P-tuning outputs keep the virtual positions in front: compare those too (they are never padding).
        long virtualTokens = reference.Keys.Select(k => reference.Load(k)).Where(t => t.dim() >= 2).Select(t => t.shape[1] - mask.shape[1]).DefaultIfEmpty(0).Max();
        var withVirtual = virtualTokens > 0 ? cat([ones(mask.shape[0], virtualTokens, dtype: mask.dtype), mask], 1) : mask;
        foreach (var key in keys)
        {
            var expected = reference.Load(key);
            var err = Parity.MaxRelativeError(ours[key[prefix.Length..]], expected, expected.dim() >= 2 && expected.shape[1] == withVirtual.shape[1] ? withVirtual : mask);
            Assert.True(err < Parity.Tolerance, $"{what} {key}: max relative error {err:E3}");
        }
    }

    [Theory]
    [MemberData(nameof(Adapters))]
    public void UnmergedMergedAndUnloadedOutputsMatch(string fixture, string adapter)
    {
        using var scope = NewDisposeScope();
        var dir = AdapterDir(fixture, adapter);
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

        // A method that merges has PEFT's merged outputs; one that cannot (prompt learning: PEFT wrote none) must refuse
        // and leave the outputs as they were, never pass untested.
        peft = PeftModel.Load(model, dir);
        var config = TunerRegistry.ReadConfig(Path.Combine(dir, PeftModel.ConfigFile));
        if (!TunerRegistry.For(config.PeftType).CanMerge(config))
        {
            Assert.False(reference.Contains("merged_logits"), $"{fixture}/{adapter}: PEFT merged it, but the method refuses to merge");
            Assert.Throws<PeftException>(() => peft.MergeAdapter());
            AssertClose(Run(model, inputs), reference, "", inputs.AttentionMask!, $"{fixture}/{adapter} after a refused merge");
            peft.Unload();
            return;
        }
        Assert.True(reference.Contains("merged_logits"), $"{fixture}/{adapter}: reference_outputs.safetensors has no merged_logits, so merging would go untested");
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
        var dir = AdapterDir(fixture, adapter);
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
