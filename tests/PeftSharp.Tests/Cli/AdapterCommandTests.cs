using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Cli;

[Collection(CliRunner.Collection)]
public class AdapterCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("peft-cli-adapter-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Adapter(string model, string name) => Path.Combine(Fixtures.Model(model), "adapters", name);

    private static void AssertMatches(string outputFile, string referenceFile, string prefix, string fixture)
    {
        using var ours = SafetensorsFile.Open(outputFile);
        using var reference = SafetensorsFile.Open(referenceFile);
        using var mask = ModelInputsFile.Load(Fixtures.Inputs(fixture), 1000).AttentionMask!;
        foreach (var key in reference.Keys.Where(k => prefix.Length == 0 ? !k.StartsWith("merged_") : k.StartsWith(prefix)))
        {
            double e = Parity.MaxRelativeError(ours.Load(key[prefix.Length..]), reference.Load(key), mask);
            Assert.True(e < Parity.Tolerance, $"{key}: {e:E3}");
        }
    }

    [Theory]
    [InlineData("llama", "lora_dora")]
    [InlineData("t5", "lora")]
    [InlineData("bert", "lora_modules_to_save")]
    public void ForwardWithAdapterUnmergedAndMerged(string fixture, string adapter)
    {
        var reference = Path.Combine(Adapter(fixture, adapter), "reference_outputs.safetensors");
        foreach (var merge in new[] { false, true })
        {
            var outPath = Path.Combine(_dir, $"{fixture}-{merge}.safetensors");
            var args = new List<string> { "forward", "--model", Fixtures.Model(fixture), "--adapter", Adapter(fixture, adapter), "--inputs", Fixtures.Inputs(fixture), "--out", outPath };
            if (merge) args.Add("--merge");
            var (exit, _, err) = CliRunner.Run([.. args]);
            Assert.True(exit == 0, err);
            AssertMatches(outPath, reference, merge ? "merged_" : "", fixture);
        }
    }

    [Fact]
    public void InspectShowsTheAdapterConfigAndTrainableReport()
    {
        var (exit, output, err) = CliRunner.Run("inspect", "--model", Fixtures.Model("llama"), "--adapter", Adapter("llama", "lora"), "--depth", "0");
        Assert.True(exit == 0, err);
        Assert.Contains("\"peft_type\": \"LORA\"", output);
        Assert.Contains("trainable params: 1,792", output); // as PEFT reports for this fixture
        Assert.Contains("202,048", output);
    }

    [Fact]
    public void MergeWritesAPlainModelFolderThatLoadsWithoutPeftSharpFiles()
    {
        var outDir = Path.Combine(_dir, "merged");
        var (exit, _, err) = CliRunner.Run("merge", "--model", Fixtures.Model("llama"), "--adapter", Adapter("llama", "lora_modules_to_save"), "--out", outDir);
        Assert.True(exit == 0, err);
        Assert.Equal(["config.json", "generation_config.json", "model.safetensors"], Directory.GetFiles(outDir).Select(f => Path.GetFileName(f)!).Order().ToArray());
        var outPath = Path.Combine(_dir, "merged-out.safetensors");
        (exit, _, err) = CliRunner.Run("forward", "--model", outDir, "--inputs", Fixtures.Inputs("llama"), "--out", outPath);
        Assert.True(exit == 0, err);
        AssertMatches(outPath, Path.Combine(Adapter("llama", "lora_modules_to_save"), "reference_outputs.safetensors"), "merged_", "llama");
    }

    [Theory]
    [InlineData("gpt2", "prompt_tuning")]
    [InlineData("t5", "prefix_tuning")]
    public void MergeRefusesAPromptAdapterWithTheReasonAndWritesNothing(string arch, string adapter)
    {
        var outDir = Path.Combine(_dir, "merged-" + adapter);
        var (exit, _, err) = CliRunner.Run("merge", "--model", Fixtures.Model(arch), "--adapter", Adapter(arch, adapter), "--out", outDir);
        Assert.Equal(2, exit);
        Assert.Contains("cannot be merged: it acts on the model's inputs", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void MergingATiedHeadCopyUntiesItInTheSavedConfig()
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model("gpt2"));
        var config = PeftSharp.Tuners.Lora.LoraConfig.Read(new JsonConfig(new System.Text.Json.Nodes.JsonObject
        {
            ["peft_type"] = "LORA", ["target_modules"] = new System.Text.Json.Nodes.JsonArray("c_attn"), ["modules_to_save"] = new System.Text.Json.Nodes.JsonArray("lm_head"),
        }, "t"));
        var peft = PeftSharp.Tuners.PeftModel.Create(model, config);
        peft.MergeAndUnload();
        var outDir = Path.Combine(_dir, "gpt2-merged");
        ModelSaver.Save(model, outDir, Fixtures.Model("gpt2"));
        Assert.False(JsonConfig.Load(Path.Combine(outDir, "config.json")).GetBool("tie_word_embeddings", true));
        using var reloaded = AutoModel.FromPretrained(outDir);
        Assert.Contains(reloaded.named_parameters(), p => p.name == "lm_head.weight");
    }
}
