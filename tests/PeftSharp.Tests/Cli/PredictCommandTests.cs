using System.Text.Json;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// A trained classifier adapter is used with peft predict, the command the training summary prints: labels and
/// probabilities per text (JSON lines with --json), the same predictions eval scores.
/// </summary>
[Collection(CliRunner.Collection)]
public class PredictCommandTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();

    public void Dispose() => _run.Dispose();

    [Fact]
    public void The_summary_s_predict_command_classifies_texts_as_eval_scores_them()
    {
        var output = Path.Combine(_run.Root, "run");
        var (exit, stdout, err) = CliRunner.Run("train", "--model", _run.ModelDir, "--data", _run.DataFile, "--output", output, "--epochs", "3",
            "--batch-size", "8", "--learning-rate", "0.01", "--pooling", "mean", "--max-length", "24", "--seed", "7", "--validation-fraction", "0.25");
        Assert.True(exit == 0, err + stdout);
        Assert.Contains("task: classification (from the data's text and label fields)", stdout);
        var adapter = Path.Combine(output, "adapter");
        Assert.Contains($"next:    peft predict --model {Path.GetFullPath(_run.ModelDir)} --adapter {adapter} --text \"Your text here\"", stdout);

        (exit, stdout, err) = CliRunner.Run("predict", "--model", _run.ModelDir, "--adapter", adapter, "--text", "the food was great", "--text", "awful service", "--json");
        Assert.True(exit == 0, err);
        var lines = stdout.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal("the food was great", lines[0].GetProperty("text").GetString());
        foreach (var line in lines)
        {
            var p = line.GetProperty("probabilities").EnumerateObject().ToDictionary(e => e.Name, e => e.Value.GetDouble());
            Assert.Equal(["0", "1"], p.Keys.Order());
            Assert.Equal(1.0, p.Values.Sum(), 4);
            Assert.Equal(p.MaxBy(kv => kv.Value).Key, line.GetProperty("label").GetString());
        }

        // Every validation record predicted from a file: the share predicted right is eval's accuracy.
        var records = PeftSharp.Data.DataFileReader.ReadAll(_run.DataFile, PeftSharp.Data.DataIssueLog.Strict());
        var split = PeftSharp.Data.DatasetSplit.TrainValidation(records, 0.25, 7);
        var validation = Path.Combine(_run.Root, "validation.jsonl");
        File.WriteAllLines(validation, split.Validation.Select(r => r.Fields.ToJsonObject().ToJsonString()));
        (exit, stdout, err) = CliRunner.Run("predict", "--model", _run.ModelDir, "--adapter", adapter, "--data", validation, "--json");
        Assert.True(exit == 0, err);
        var predicted = stdout.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement.GetProperty("label").GetString()).ToList();
        double accuracy = predicted.Zip(split.Validation, (p, r) => p == r["label"]!.ToString() ? 1.0 : 0.0).Average();
        (exit, stdout, err) = CliRunner.Run("eval", "--model", _run.ModelDir, "--adapter", adapter, "--data", validation, "--json");
        Assert.True(exit == 0, err);
        Assert.Equal(JsonDocument.Parse(stdout).RootElement.GetProperty("metrics").GetProperty("accuracy").GetDouble(), accuracy, 9);

        (exit, stdout, err) = CliRunner.Run("predict", "--model", _run.ModelDir, "--adapter", adapter, "--text", "great");
        Assert.True(exit == 0, err);
        Assert.Matches(@"^[01]\t\(0 0\.\d{3}, 1 0\.\d{3}\)\tgreat$", stdout.Trim());
        (exit, _, err) = CliRunner.Run("predict", "--model", _run.ModelDir, "--adapter", adapter);
        Assert.Equal(2, exit);
        Assert.Contains("give --text", err);
    }

    [Fact]
    public void A_single_label_in_evaluation_data_names_that_file()
    {
        var data = Path.Combine(_run.Root, "one-label.jsonl");
        File.WriteAllLines(data, ["""{"text": "great", "label": 1}""", """{"text": "fine", "label": 1}"""]);
        var (exit, _, err) = CliRunner.Run("eval", "--model", _run.ModelDir, "--data", data);
        Assert.Equal(2, exit);
        Assert.Contains($"the evaluation data ({data}) has only \"1\"", err);
    }
}
