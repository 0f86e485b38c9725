using System.Text.Json;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using PeftSharp.Tuners;

namespace PeftSharp.Tests.Cli;

internal static class FieldsJson
{
    public static System.Text.Json.Nodes.JsonObject ToJsonObject(this IReadOnlyDictionary<string, System.Text.Json.Nodes.JsonNode?> fields)
    {
        var o = new System.Text.Json.Nodes.JsonObject();
        foreach (var (k, v) in fields) o[k] = v?.DeepClone();
        return o;
    }
}

[Collection(CliRunner.Collection)]
public class TrainAndEvalCommandTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();

    public void Dispose() => _run.Dispose();

    [Fact]
    public void TrainWritesTheRunFolderAndEvalReproducesTheValidationScore()
    {
        var output = Path.Combine(_run.Root, "cli-run");
        var (exit, stdout, err) = CliRunner.Run("train", "--model", _run.ModelDir, "--data", _run.DataFile, "--output", output,
            "--epochs", "4", "--batch-size", "8", "--learning-rate", "0.01", "--pooling", "mean", "--lora-dropout", "0", "--scheduler", "constant",
            "--warmup-ratio", "0", "--max-length", "24", "--frozen-baseline", "--seed", "7", "--validation-fraction", "0.25");
        Assert.True(exit == 0, err + stdout);
        Assert.Contains("validation accuracy", stdout);
        Assert.Contains(TrainingSession.FrozenBaselineName, stdout);
        foreach (var file in new[] { TrainConfigFile.RunFileName, MetricsLog.FileName, LossPlot.FileName, RunReport.FileName })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        var adapter = Path.Combine(output, "adapter");
        Assert.True(File.Exists(Path.Combine(adapter, PeftModel.WeightsFile)));
        Assert.True(File.Exists(Path.Combine(adapter, TaskInfo.FileName)));
        var report = File.ReadAllText(Path.Combine(output, RunReport.FileName));
        Assert.Contains(TrainingSession.FrozenBaselineName, report);

        // The adapter alone, evaluated on the same validation rows, scores what training reported for it.
        var (steps, evals) = MetricsLog.Read(Path.Combine(output, MetricsLog.FileName));
        Assert.NotEmpty(steps);
        double best = evals.Where(e => e.Step > 0).Max(e => e.Metrics["accuracy"]);
        var records = PeftSharp.Data.DataFileReader.ReadAll(_run.DataFile, PeftSharp.Data.DataIssueLog.Strict());
        var split = PeftSharp.Data.DatasetSplit.TrainValidation(records, 0.25, 7);
        var validation = Path.Combine(_run.Root, "validation.jsonl");
        File.WriteAllLines(validation, split.Validation.Select(r => r.Fields.ToJsonObject().ToJsonString()));
        (exit, stdout, err) = CliRunner.Run("eval", "--model", _run.ModelDir, "--adapter", adapter, "--data", validation, "--json");
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(best, doc.RootElement.GetProperty("metrics").GetProperty("accuracy").GetDouble(), 9);
    }

    [Fact]
    public void ConfigFileAndFlagsCombineAndMistakesAreOneLine()
    {
        var config = Path.Combine(_run.Root, "train.yaml");
        File.WriteAllText(config, $"model: {_run.ModelDir}\ntrain_data: {_run.DataFile}\noutput: {Path.Combine(_run.Root, "from-config")}\nmax_steps: 2\nbatch_size: 4\nmax_length: 16\n");
        var (exit, stdout, err) = CliRunner.Run("train", "--config", config, "--learning-rate", "0.001");
        Assert.True(exit == 0, err + stdout);
        Assert.Contains("learning_rate: 0.001", File.ReadAllText(Path.Combine(_run.Root, "from-config", TrainConfigFile.RunFileName)));

        (exit, _, err) = CliRunner.Run("train", "--config", config);
        Assert.Equal(2, exit);
        Assert.Contains("--resume", err); // the run folder already has checkpoints

        File.WriteAllText(config, "modle: x\n");
        (exit, _, err) = CliRunner.Run("train", "--config", config);
        Assert.Equal(2, exit);
        Assert.Contains("model", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
