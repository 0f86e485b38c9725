using System.Text.Json;
using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Cli;

[Collection(CliRunner.Collection)]
public class CompareCommandTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();

    public void Dispose() => _run.Dispose();

    private string Train(string name, long seed)
    {
        var summary = TrainingSession.Run(_run.Options(name) with { Epochs = 3, LearningRate = 0.01, Dropout = 0, Pooling = "mean", Seed = seed, Forgetting = "off" });
        return summary.AdapterDir;
    }

    [Fact]
    public void Base_against_an_adapter_and_an_adapter_against_itself_give_the_metrics_and_transitions_of_each()
    {
        var adapter = Train("a", 7);
        var (exit, stdout, err) = CliRunner.Run("compare", "--model", _run.ModelDir, "--adapter", adapter, "--data", _run.DataFile, "--json");
        Assert.True(exit == 0, err + stdout);
        var json = JsonDocument.Parse(stdout).RootElement;
        int examples = json.GetProperty("examples").GetInt32();
        Assert.Equal(96, examples);
        Assert.Equal("base model", json.GetProperty("first").GetString());
        var t = json.GetProperty("transitions");
        int rr = t.GetProperty("right_to_right").GetInt32(), rw = t.GetProperty("right_to_wrong").GetInt32();
        int wr = t.GetProperty("wrong_to_right").GetInt32(), ww = t.GetProperty("wrong_to_wrong").GetInt32();
        Assert.Equal(examples, rr + rw + wr + ww);
        Assert.Equal(json.GetProperty("second_metrics").GetProperty("accuracy").GetDouble() * examples, rr + wr, 6);
        // The adapter's side is what peft eval says of it.
        (exit, var evalOut, err) = CliRunner.Run("eval", "--model", _run.ModelDir, "--adapter", adapter, "--data", _run.DataFile, "--json");
        Assert.True(exit == 0, err);
        Assert.Equal(JsonDocument.Parse(evalOut).RootElement.GetProperty("metrics").GetProperty("accuracy").GetDouble(),
            json.GetProperty("second_metrics").GetProperty("accuracy").GetDouble(), 12);

        (exit, stdout, err) = CliRunner.Run("compare", "--model", _run.ModelDir, "--adapter", adapter, "--adapter", adapter, "--data", _run.DataFile, "--json");
        Assert.True(exit == 0, err + stdout);
        json = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(0, json.GetProperty("transitions").GetProperty("right_to_wrong").GetInt32());
        Assert.Equal(0, json.GetProperty("transitions").GetProperty("wrong_to_right").GetInt32());
        Assert.Equal(0, json.GetProperty("changed").GetArrayLength());

        (exit, stdout, err) = CliRunner.Run("compare", "--model", _run.ModelDir, "--adapter", adapter, "--data", _run.DataFile);
        Assert.True(exit == 0, err);
        Assert.Contains("right → wrong (forgetting)", stdout);
    }

    [Fact]
    public void Two_rounds_compared_list_the_examples_that_changed_and_a_wrong_call_is_one_line()
    {
        var a = Train("a", 7);
        var b = Train("b", 8);
        var (exit, stdout, err) = CliRunner.Run("compare", "--model", _run.ModelDir, "--adapter", a, "--adapter", b, "--data", _run.DataFile, "--json", "--show", "50");
        Assert.True(exit == 0, err + stdout);
        var json = JsonDocument.Parse(stdout).RootElement;
        var t = json.GetProperty("transitions");
        int changed = t.GetProperty("right_to_wrong").GetInt32() + t.GetProperty("wrong_to_right").GetInt32();
        Assert.Equal(Math.Min(50, changed), json.GetProperty("changed").GetArrayLength());
        foreach (var c in json.GetProperty("changed").EnumerateArray())
            Assert.NotEqual(c.GetProperty("first").GetString() == c.GetProperty("label").GetString(), c.GetProperty("second").GetString() == c.GetProperty("label").GetString());

        (exit, _, err) = CliRunner.Run("compare", "--model", _run.ModelDir, "--adapter", a, "--adapter", b, "--adapter", a, "--data", _run.DataFile);
        Assert.Equal(2, exit);
        Assert.Contains("give one (base against it) or two", err);
        Assert.Single(err.Trim().Split('\n'));
        (exit, _, err) = CliRunner.Run("compare", "--model", _run.ModelDir, "--adapter", Path.Combine(_run.Root, "nope"), "--data", _run.DataFile);
        Assert.Equal(2, exit);
        Assert.Contains("adapter folder not found", err);
    }
}
