using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Training.Rounds;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// peft select and peft pseudo-label against the adapter's own probabilities as peft predict reports them (another code
/// path): select must return exactly the pool's most uncertain examples by each formula, pseudo-label exactly the
/// predictions above the threshold. (ActiveSelectionTests checks the choice itself on constructed probabilities.)
/// </summary>
[Collection(CliRunner.Collection)]
public class SelectAndPseudoLabelCommandTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();
    private readonly string _adapter;
    private readonly string _pool;

    public SelectAndPseudoLabelCommandTests()
    {
        // The tiny task, plus sentences with "okay" labelled half one way and half the other: the model learns that it
        // cannot tell those, so they are the pool's uncertain examples by construction.
        var data = Path.Combine(_run.Root, "with-okay.jsonl");
        string[] filler = ["the food was really quite", "this phone and the staff", "the plot was quite really", "service and this movie"];
        var okay = Enumerable.Range(0, 48).Select(i => new JsonObject { ["text"] = $"{filler[(i / 2) % 4]} okay {filler[(i / 8) % 4]}", ["label"] = i % 2 }.ToJsonString());
        File.WriteAllLines(data, File.ReadAllLines(_run.DataFile).Concat(okay));
        _adapter = TrainingSession.Run(_run.Options("trained") with
        {
            TrainData = data, Epochs = 6, LearningRate = 0.01, Dropout = 0, Pooling = "mean", Scheduler = "constant", WarmupRatio = 0, Forgetting = "off",
        }).AdapterDir;
        _pool = Path.Combine(_run.Root, "pool.jsonl");
        var lines = new List<string>();
        for (int i = 0; i < 8; i++)
        {
            // Every text different: equal texts would tie, and a tie between rounding errors decides nothing.
            lines.Add(new JsonObject { ["text"] = $"{filler[i % 4]} great {filler[i / 4]}", ["id"] = $"great-{i}" }.ToJsonString());
            lines.Add(new JsonObject { ["text"] = $"{filler[i / 4]} awful {filler[i % 4]}", ["id"] = $"awful-{i}" }.ToJsonString());
        }
        for (int i = 0; i < 4; i++) lines.Add(new JsonObject { ["text"] = $"{filler[i]} okay {filler[(i + 1) % 4]}", ["id"] = $"okay-{i}" }.ToJsonString());
        File.WriteAllLines(_pool, lines);
    }

    public void Dispose() => _run.Dispose();

    private static List<JsonElement> ReadLines(string path) => File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    /// <summary>Each pool example's id and probabilities by class id, from peft predict --json.</summary>
    private List<(string Id, double[] P)> Predicted()
    {
        var (exit, stdout, err) = CliRunner.Run("predict", "--model", _run.ModelDir, "--adapter", _adapter, "--data", _pool, "--json");
        Assert.True(exit == 0, err);
        var ids = File.ReadAllLines(_pool).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()!).ToList();
        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("probabilities")).ToList();
        Assert.Equal(ids.Count, rows.Count);
        return ids.Zip(rows, (id, p) => (id, new[] { p.GetProperty("0").GetDouble(), p.GetProperty("1").GetDouble() })).ToList();
    }

    [Theory]
    [InlineData("entropy")]
    [InlineData("margin")]
    [InlineData("least-confidence")]
    public void Select_returns_the_pools_most_uncertain_examples_by_the_strategys_formula_and_is_deterministic(string strategy)
    {
        var output = Path.Combine(_run.Root, $"{strategy}.jsonl");
        var (exit, stdout, err) = CliRunner.Run("select", "--model", _run.ModelDir, "--adapter", _adapter, "--pool", _pool, "--count", "4",
            "--strategy", strategy, "--out", output);
        Assert.True(exit == 0, err + stdout);
        var chosen = ReadLines(output);
        var scored = Predicted().Select(x => (x.Id, Score: ActiveSelection.Score(strategy, x.P))).ToList();
        var expected = (strategy == "margin" ? scored.OrderBy(x => x.Score) : scored.OrderByDescending(x => x.Score)).Take(4).ToList();
        Assert.Equal(expected.Select(x => x.Id), chosen.Select(c => c.GetProperty("id").GetString()));
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i].Score, chosen[i].GetProperty("selection").GetProperty("score").GetDouble(), 4);
        Assert.Equal([1, 2, 3, 4], chosen.Select(c => c.GetProperty("selection").GetProperty("rank").GetInt32()));
        Assert.Contains(chosen, c => c.GetProperty("id").GetString()!.StartsWith("okay-", StringComparison.Ordinal)); // taught to be unsure of okay
        var first = File.ReadAllBytes(output);
        (exit, _, err) = CliRunner.Run("select", "--model", _run.ModelDir, "--adapter", _adapter, "--pool", _pool, "--count", "4", "--strategy", strategy, "--out", output);
        Assert.True(exit == 0, err);
        Assert.Equal(first, File.ReadAllBytes(output));
    }

    [Fact]
    public void Random_selection_follows_the_seed_and_wrong_calls_are_one_line_that_write_nothing()
    {
        string Run(long seed)
        {
            var output = Path.Combine(_run.Root, $"random-{seed}.jsonl");
            var (exit, _, err) = CliRunner.Run("select", "--model", _run.ModelDir, "--adapter", _adapter, "--pool", _pool, "--count", "5", "--strategy", "random",
                "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", output);
            Assert.True(exit == 0, err);
            return string.Join(",", ReadLines(output).Select(c => c.GetProperty("id").GetString()));
        }
        Assert.Equal(Run(3), Run(3));
        Assert.NotEqual(Run(3), Run(4));

        var refused = Path.Combine(_run.Root, "refused.jsonl");
        var (code, _, error) = CliRunner.Run("select", "--model", _run.ModelDir, "--adapter", _adapter, "--pool", _pool, "--count", "2", "--strategy", "perplexity", "--out", refused);
        Assert.Equal(2, code);
        Assert.Contains("perplexity scores instruction data", error);
        Assert.False(File.Exists(refused));
        (code, _, error) = CliRunner.Run("select", "--model", _run.ModelDir, "--adapter", _adapter, "--pool", _pool, "--count", "0", "--out", refused);
        Assert.Equal(2, code);
        Assert.False(File.Exists(refused));
    }

    [Fact]
    public void Pseudo_label_keeps_exactly_the_predictions_above_the_threshold_with_their_labels()
    {
        var output = Path.Combine(_run.Root, "pseudo.jsonl");
        var (exit, stdout, err) = CliRunner.Run("pseudo-label", "--model", _run.ModelDir, "--adapter", _adapter, "--pool", _pool, "--min-confidence", "0.8", "--out", output);
        Assert.True(exit == 0, err + stdout);
        var kept = ReadLines(output);
        var expected = Predicted().Where(x => x.P.Max() >= 0.8).ToList();
        Assert.InRange(expected.Count, 1, 19); // the threshold keeps some and drops some
        Assert.Equal(expected.Select(x => x.Id), kept.Select(k => k.GetProperty("id").GetString()));
        // Labels in the training data's own type (integers): the predicted class.
        Assert.Equal(expected.Select(x => x.P[1] > x.P[0] ? 1 : 0), kept.Select(k => k.GetProperty("label").GetInt32()));
        Assert.All(kept, k => Assert.True(k.GetProperty("pseudo_label_confidence").GetDouble() >= 0.8));
        Assert.Contains($"kept {kept.Count} of 20 pool examples", stdout);
        Assert.Contains("kept", stdout);

        // The labelled records train as they are, added to the labelled data (self-training's next round).
        var combined = Path.Combine(_run.Root, "combined.jsonl");
        File.WriteAllLines(combined, File.ReadAllLines(_run.DataFile).Concat(File.ReadAllLines(output)));
        var summary = TrainingSession.Run(_run.Options("from-pseudo") with { TrainData = combined, MaxSteps = 2, Forgetting = "off" });
        Assert.Equal(2, summary.Steps);
    }
}

/// <summary>peft select on instruction data: the answers the adapter finds least likely, against peft eval on each record alone.</summary>
[Collection(CliRunner.Collection)]
public class SelectInstructionCommandTests
{
    private static readonly string Model = Path.Combine(AppContext.BaseDirectory, "models", "tiny-gpt2-en");
    private static readonly string Data = Path.Combine(AppContext.BaseDirectory, "data", "examples", "instructions.jsonl");

    [Fact]
    public void Perplexity_selection_picks_the_highest_answer_perplexities_as_peft_eval_measures_them()
    {
        var root = Directory.CreateTempSubdirectory("peft-select-").FullName;
        try
        {
            var (exit, stdout, err) = CliRunner.Run("train", "--model", Model, "--data", Data, "--output", Path.Combine(root, "run"), "--max-steps", "2", "--forgetting", "off");
            Assert.True(exit == 0, err + stdout);
            var adapter = Path.Combine(root, "run", "adapter");
            var pool = Path.Combine(root, "pool.jsonl");
            File.WriteAllLines(pool, File.ReadAllLines(Data).Take(8));
            var output = Path.Combine(root, "chosen.jsonl");
            (exit, stdout, err) = CliRunner.Run("select", "--model", Model, "--adapter", adapter, "--pool", pool, "--count", "3", "--strategy", "perplexity", "--out", output);
            Assert.True(exit == 0, err + stdout);
            var perplexity = File.ReadAllLines(pool).Select((line, i) =>
            {
                var one = Path.Combine(root, $"one-{i}.jsonl");
                File.WriteAllLines(one, [line]);
                var (code, json, error) = CliRunner.Run("eval", "--model", Model, "--adapter", adapter, "--data", one, "--json");
                Assert.True(code == 0, error);
                return (Prompt: JsonDocument.Parse(line).RootElement.GetProperty("prompt").GetString(),
                    Value: JsonDocument.Parse(json).RootElement.GetProperty("metrics").GetProperty("perplexity").GetDouble());
            }).ToList();
            var expected = perplexity.OrderByDescending(p => p.Value).Take(3).ToList();
            var chosen = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            Assert.Equal(expected.Select(e => e.Prompt), chosen.Select(c => c.GetProperty("prompt").GetString()));
            // eval sums float32 losses, select float64 ones: the same perplexity to a few parts in a million.
            for (int i = 0; i < 3; i++) Assert.True(Math.Abs(expected[i].Value / chosen[i].GetProperty("selection").GetProperty("score").GetDouble() - 1) < 1e-5);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
