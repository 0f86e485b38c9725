using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;

namespace PeftSharp.Tests.Cli;

/// <summary><c>peft train --method bottleneck</c> with its own flags trains and saves PeftSharp's own adapter type; <c>peft merge</c> refuses it with the reason.</summary>
[Collection(CliRunner.Collection)]
public sealed class BottleneckCommandTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();

    public void Dispose() => _run.Dispose();

    [Fact]
    public void TrainsWithItsFlagsAndMergeRefusesWithTheReason()
    {
        var output = Path.Combine(_run.Root, "bottleneck-run");
        var (exit, stdout, err) = CliRunner.Run("train", "--model", _run.ModelDir, "--data", _run.DataFile, "--output", output,
            "--method", "bottleneck", "--reduction-factor", "4", "--placement", "houlsby", "--non-linearity", "tanh",
            "--max-steps", "6", "--batch-size", "8", "--learning-rate", "0.01", "--pooling", "mean", "--max-length", "24", "--seed", "7");
        Assert.True(exit == 0, err + stdout);
        var adapter = Path.Combine(output, "adapter");
        var config = JsonConfig.Load(Path.Combine(adapter, PeftModel.ConfigFile));
        Assert.Equal(("BOTTLENECK", 4, "tanh"), (config.GetString("peft_type"), config.GetInt("reduction_factor"), config.GetString("non_linearity")));
        using (var file = SafetensorsFile.Open(Path.Combine(adapter, PeftModel.WeightsFile)))
        {
            // houlsby on BERT: after attention (attention.output.dense) and after the feed-forward block (output.dense); 32 / 4 = 8
            Assert.Equal([8, 32], file.Load("base_model.model.bert.encoder.layer.1.attention.output.dense.adapter_down.weight").shape);
            Assert.Equal([32, 8], file.Load("base_model.model.bert.encoder.layer.1.output.dense.adapter_up.weight").shape);
        }

        // The adapter was trained on a classifier built from the bare BertModel folder; merge loads its --model as it is, so it gets a classifier's folder.
        var classifier = Path.Combine(_run.Root, "classifier-model");
        Directory.CreateDirectory(classifier);
        foreach (var f in Directory.GetFiles(_run.ModelDir)) File.Copy(f, Path.Combine(classifier, Path.GetFileName(f)));
        var modelConfig = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(classifier, "config.json")))!.AsObject();
        modelConfig["architectures"] = new System.Text.Json.Nodes.JsonArray("BertForSequenceClassification");
        File.WriteAllText(Path.Combine(classifier, "config.json"), modelConfig.ToJsonString());
        (exit, _, err) = CliRunner.Run("merge", "--model", classifier, "--adapter", adapter, "--out", Path.Combine(_run.Root, "merged"));
        Assert.NotEqual(0, exit);
        Assert.True(err.Contains("cannot be merged") && err.Contains("nonlinearity between its two projections"), err);
        Assert.False(Directory.Exists(Path.Combine(_run.Root, "merged")) && Directory.EnumerateFileSystemEntries(Path.Combine(_run.Root, "merged")).Any());
    }
}
