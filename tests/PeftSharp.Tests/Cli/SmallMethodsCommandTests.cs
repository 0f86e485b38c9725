using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;

namespace PeftSharp.Tests.Cli;

/// <summary><c>peft train --method ln-tuning</c> and <c>--method bitfit</c> train and save their files; <c>peft merge</c> merges a BitFit adapter.</summary>
[Collection(CliRunner.Collection)]
public sealed class SmallMethodsCommandTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();

    public void Dispose() => _run.Dispose();

    private (int Exit, string Out, string Err) Train(string output, params string[] method) =>
        CliRunner.Run(["train", "--model", _run.ModelDir, "--data", _run.DataFile, "--output", output, .. method,
            "--max-steps", "6", "--batch-size", "8", "--learning-rate", "0.01", "--pooling", "mean", "--max-length", "24", "--seed", "7"]);

    [Fact]
    public void LnTuningTrainsTheNormsByDefaultOrTheTargetedOnes()
    {
        var output = Path.Combine(_run.Root, "ln-run");
        var (exit, stdout, err) = Train(output, "--method", "ln-tuning");
        Assert.True(exit == 0, err + stdout);
        var adapter = Path.Combine(output, "adapter");
        Assert.Equal("LN_TUNING", JsonConfig.Load(Path.Combine(adapter, PeftModel.ConfigFile)).GetString("peft_type"));
        using (var file = SafetensorsFile.Open(Path.Combine(adapter, PeftModel.WeightsFile)))
            Assert.Contains("base_model.model.bert.embeddings.LayerNorm.ln_tuning_layers.bias", file.Keys);

        output = Path.Combine(_run.Root, "ln-attention");
        (exit, stdout, err) = Train(output, "--method", "ln-tuning", "--target-modules", "attention.output.LayerNorm");
        Assert.True(exit == 0, err + stdout);
        using (var file = SafetensorsFile.Open(Path.Combine(output, "adapter", PeftModel.WeightsFile)))
            Assert.All(file.Keys.Where(k => !k.Contains(".classifier.")), k => Assert.Contains(".attention.output.LayerNorm.ln_tuning_layers.", k));
    }

    [Fact]
    public void BitFitTrainsTheBiasesAndMerges()
    {
        var output = Path.Combine(_run.Root, "bitfit-run");
        var (exit, stdout, err) = Train(output, "--method", "bitfit");
        Assert.True(exit == 0, err + stdout);
        var adapter = Path.Combine(output, "adapter");
        var config = JsonConfig.Load(Path.Combine(adapter, PeftModel.ConfigFile));
        Assert.Equal(("BITFIT", "all", true), (config.GetString("peft_type"), config.GetString("biases"), config.GetBool("peftsharp_only", false)));
        using (var file = SafetensorsFile.Open(Path.Combine(adapter, PeftModel.WeightsFile)))
            Assert.Contains("base_model.model.bert.encoder.layer.1.output.dense.bias", file.Keys);

        // Trained on a classifier built from the bare BertModel folder: merge gets a classifier's folder, as for bottleneck adapters.
        var classifier = Path.Combine(_run.Root, "classifier-model");
        Directory.CreateDirectory(classifier);
        foreach (var f in Directory.GetFiles(_run.ModelDir)) File.Copy(f, Path.Combine(classifier, Path.GetFileName(f)));
        var modelConfig = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(classifier, "config.json")))!.AsObject();
        modelConfig["architectures"] = new System.Text.Json.Nodes.JsonArray("BertForSequenceClassification");
        File.WriteAllText(Path.Combine(classifier, "config.json"), modelConfig.ToJsonString());
        var merged = Path.Combine(_run.Root, "merged");
        (exit, stdout, err) = CliRunner.Run("merge", "--model", classifier, "--adapter", adapter, "--out", merged);
        Assert.True(exit == 0, err + stdout);
        Assert.True(File.Exists(Path.Combine(merged, "model.safetensors")));
    }
}
