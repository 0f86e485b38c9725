using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Training.Rounds;
using Spectre.Console;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft select</c>: the N unlabelled examples of a pool to label next, chosen by the adapter's uncertainty
/// (<see cref="ActiveSelection"/>), written with their scores so a person labels those that teach most.
/// </summary>
public static class SelectCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string>("--adapter") { Description = "The adapter of the last round", Required = true };
        var pool = new Option<string>("--pool") { Description = "Unlabelled records (.jsonl, .csv, .parquet): text for classification, prompt and completion for instruction data", Required = true };
        var count = new Option<int>("--count") { Description = "How many examples to choose", Required = true };
        var strategy = new Option<string>("--strategy") { Description = "entropy | margin | least-confidence | random (classification); perplexity | random (instruction)", DefaultValueFactory = _ => "entropy" };
        var diverse = new Option<bool>("--diverse") { Description = $"Spread the choice: k-center greedy on sentence embeddings among the {ActiveSelection.DiverseCandidatesPerPick}N most uncertain" };
        var seed = new Option<long>("--seed") { Description = "Seed of the random strategy", DefaultValueFactory = _ => 42 };
        var output = new Option<string>("--out") { Description = "Where to write the chosen records (JSON lines, with a selection field)", Required = true };
        var batch = new Option<int>("--batch-size") { Description = "Batch size", DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int?>("--max-length") { Description = "Truncate inputs to this many tokens (default: the adapter's)" };
        var device = CommonOptions.Device();
        var cmd = new Command("select", "Choose the unlabelled examples to label next: those the adapter is least sure of (active learning)")
        {
            model, adapter, pool, count, strategy, diverse, seed, output, batch, maxLength, device,
        };
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapter)!, r.GetValue(pool)!, r.GetValue(count), r.GetValue(strategy)!,
            r.GetValue(diverse), r.GetValue(seed), r.GetValue(output)!, r.GetValue(batch), r.GetValue(maxLength), r.GetValue(device))));
        return cmd;
    }

    private static int Run(string modelDir, string adapterDir, string poolPath, int count, string strategy, bool diverse, long seed, string output,
        int batchSize, int? maxLength, string? deviceName)
    {
        if (!ActiveSelection.Strategies.Contains(strategy)) throw new PeftException($"--strategy \"{strategy}\" is not one of {string.Join(", ", ActiveSelection.Strategies)}");
        if (count < 1) throw new PeftException($"--count must be at least 1, not {count}");
        if (batchSize < 1) throw new PeftException("--batch-size must be at least 1");
        using var input = PoolInput.Load(modelDir, adapterDir, poolPath, maxLength, deviceName);
        bool classes = input.Kind == TaskKind.SequenceClassification;
        if (strategy == "perplexity" && classes) throw new PeftException("--strategy perplexity scores instruction data; for classification use entropy, margin or least-confidence");
        if (strategy is "entropy" or "margin" or "least-confidence" && !classes) throw new PeftException($"--strategy {strategy} scores class probabilities; for {input.Task} data use perplexity or random");
        if (diverse && !classes) throw new PeftException("--diverse needs sentence embeddings of a classifier's pool");
        var device = input.Model.Device;
        double[] scores;
        float[][]? embeddings = null;
        if (classes)
        {
            var predictions = PoolPredictions.Compute(input.Model, input.Examples, input.Collator, batchSize, device, diverse);
            scores = strategy == "random" ? new double[predictions.Probabilities.Count] : predictions.Probabilities.Select(p => ActiveSelection.Score(strategy, p)).ToArray();
            embeddings = predictions.Embeddings;
        }
        else
        {
            var outcomes = ExampleOutcome.Evaluate(input.Model, input.Kind, input.Examples, input.Collator, batchSize, device);
            scores = outcomes.Select(o => Math.Exp(o.Loss)).ToArray();
        }
        var chosen = ActiveSelection.Choose(strategy, scores, count, seed, diverse, embeddings);
        var records = input.ExampleRecords();
        var text = new StringBuilder();
        for (int rank = 0; rank < chosen.Count; rank++)
        {
            var o = new JsonObject();
            foreach (var (k, v) in records[chosen[rank]].Fields) o[k] = v?.DeepClone();
            var selection = new JsonObject { ["strategy"] = strategy + (diverse ? "+diverse" : ""), ["rank"] = rank + 1 };
            if (strategy != "random") selection["score"] = scores[chosen[rank]];
            o["selection"] = selection;
            text.Append(o.ToJsonString()).Append('\n');
        }
        AtomicFile.WriteAllText(output, text.ToString());
        var console = Terminal.Out();
        console.MarkupLine(Markup.Escape($"chose {chosen.Count:N0} of {input.Examples.Count:N0} pool examples by {strategy}{(diverse ? " with diversity" : "")}; wrote {output}"));
        if (strategy != "random")
        {
            var picked = chosen.Select(i => scores[i]).ToList();
            console.MarkupLine(Markup.Escape($"{strategy} of the chosen: {picked.Min().ToString("0.####", CultureInfo.InvariantCulture)} to {picked.Max().ToString("0.####", CultureInfo.InvariantCulture)}; "
                + $"of the pool: median {Median(scores).ToString("0.####", CultureInfo.InvariantCulture)}"));
        }
        return 0;
    }

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
