using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using PeftSharp.Training.Rounds;
using PeftSharp.Tuners;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// Active learning on a real labelled set, the experiment behind the README's "fewer labels each round":
/// <code>dotnet run -c Release --project bench/PeftSharp.Bench -- active-learning --model DIR [--data FILE] [--seeds 3] [--start 100] [--step 100] [--budget 400] [--strategies a,b] [--out DIR]</code>
/// (<c>--from DIR/results.json</c> prints the table and redraws the plot of a finished run.)
/// From a random seed set of labels from the data's train split, each round trains the adapter on every label so far,
/// continuing the previous round's adapter (from_adapter), then labels the next step examples of the rest of the train
/// split chosen by a strategy (the labels come from the data: a simulated annotator), up to the budget. Validation is
/// the data's validation split, the same every round. Round 1 is shared by every strategy of a seed. Besides
/// validation accuracy it records what became of the first round's labelled examples (right after round 1, wrong later:
/// forgetting). Prints a table (mean and range over seeds), writes results.json and active-learning.png into --out.
/// </summary>
public static class ActiveLearningBenchmark
{
    /// <summary>
    /// The default strategies. With two classes entropy, margin and least-confidence rank a pool identically (each is
    /// monotone in the top probability), so one of them is run, and beside it entropy with k-center diversity.
    /// </summary>
    private static readonly string[] StrategyNames = ["random", "entropy", "entropy+diverse"];

    public static int Run(string[] args)
    {
        string? Flag(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        int Int(string name, int fallback) => Flag(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        if (Flag("--from") is { } saved)
        {
            // Table and plot again from an earlier run's results.json, without training.
            var rows = JsonSerializer.Deserialize<List<Row>>(File.ReadAllText(saved))!;
            var names = rows.Select(r => r.Strategy).Distinct().ToList();
            PrintTable(rows, names, rows.Max(r => r.Labels));
            Plot(rows, names, Path.Combine(Path.GetDirectoryName(Path.GetFullPath(saved))!, "active-learning.png"));
            return 0;
        }
        var model = Flag("--model") ?? throw new ArgumentException("--model DIR: a MiniLM folder (peft import minilm --out DIR)");
        var data = Flag("--data") ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "data", "uci-sentiment", "uci-sentiment.jsonl");
        int seeds = Int("--seeds", 3), start = Int("--start", 100), step = Int("--step", 100), budget = Int("--budget", 400);
        var output = Path.GetFullPath(Flag("--out") ?? Path.Combine("runs", "active-learning"));
        var strategies = Flag("--strategies")?.Split(',') ?? StrategyNames;
        Directory.CreateDirectory(output);

        var split = DatasetSplit.ByColumn(DataFileReader.ReadAll(data, DataIssueLog.Strict()), DataIssueLog.Strict());
        var pool = split.Train;
        var validationFile = Path.Combine(output, "validation.jsonl");
        Write(validationFile, split.Validation);
        var tokenizer = AutoTokenizer.FromFolder(model);
        var results = new List<Row>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Console.WriteLine($"active learning: {Path.GetFileName(data)}, {pool.Count:N0} train (the pool), {split.Validation.Count:N0} validation; "
            + $"{start} random labels, then {step} a round to {budget}; {seeds} seed(s); strategies {string.Join(", ", strategies)}");
        for (int seed = 1; seed <= seeds; seed++)
        {
            var first = ActiveSelection.Choose("random", new double[pool.Count], start, seed * 7919L).ToList();
            var firstFile = Path.Combine(output, $"seed{seed}-labels-{start}.jsonl");
            Write(firstFile, first.Select(i => pool[i]).ToList());
            var round1 = Train(model, firstFile, validationFile, null, seed, Path.Combine(output, $"seed{seed}", "round-1"));
            var firstOutcomes = Outcomes(model, round1.AdapterDir, tokenizer, first.Select(i => pool[i]).ToList());
            foreach (var strategy in strategies)
            {
                var labelled = new List<int>(first);
                var summary = round1;
                int round = 1;
                while (true)
                {
                    var outcomes = round == 1 ? firstOutcomes : Outcomes(model, summary.AdapterDir, tokenizer, first.Select(i => pool[i]).ToList());
                    var t = Transitions.Between(firstOutcomes, outcomes);
                    results.Add(new Row(strategy, seed, round, labelled.Count, summary.After!["accuracy"], outcomes.Count(o => o.Correct == true) / (double)outcomes.Count, t.RightToWrong, summary.TrainSeconds));
                    Console.WriteLine($"  seed {seed} {strategy,-16} round {round}: {labelled.Count,4} labels, validation accuracy {100 * summary.After["accuracy"]:F1}%, "
                        + $"first round's labels right→wrong {t.RightToWrong} ({clock.Elapsed:hh\\:mm\\:ss})");
                    if (labelled.Count >= budget) break;
                    var rest = Enumerable.Range(0, pool.Count).Except(labelled).ToList();
                    var chosen = Choose(model, summary.AdapterDir, tokenizer, rest.Select(i => pool[i]).ToList(), strategy, Math.Min(step, budget - labelled.Count), seed * 1000L + round);
                    labelled.AddRange(chosen.Select(i => rest[i]));
                    round++;
                    var file = Path.Combine(output, $"seed{seed}", strategy, $"labels-{labelled.Count}.jsonl");
                    Write(file, labelled.Select(i => pool[i]).ToList());
                    summary = Train(model, file, validationFile, summary.AdapterDir, seed, Path.Combine(output, $"seed{seed}", strategy, $"round-{round}"));
                }
            }
            File.WriteAllText(Path.Combine(output, "results.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        }
        PrintTable(results, strategies, budget);
        Plot(results, strategies, Path.Combine(output, "active-learning.png"));
        Console.WriteLine($"wrote {Path.Combine(output, "results.json")} and active-learning.png ({clock.Elapsed:hh\\:mm\\:ss})");
        return 0;
    }

    public sealed record Row(string Strategy, int Seed, int Round, int Labels, double Accuracy, double FirstRoundAccuracy, int FirstRoundForgotten, double TrainSeconds);

    /// <summary>peft train's defaults for the bundled MiniLM run, one evaluation at the end, no checkpoints kept beyond it.</summary>
    private static TrainingSummary Train(string model, string trainFile, string validationFile, string? fromAdapter, int seed, string output)
    {
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        return TrainingSession.Run(new TrainingOptions
        {
            Model = model, TrainData = trainFile, ValidationData = validationFile, FromAdapter = fromAdapter, Task = "classification",
            Pooling = "mean", Rank = 8, Alpha = 16, Dropout = 0.05, LearningRate = 1e-3, Epochs = 3, BatchSize = 16, MaxLength = 64,
            Seed = seed, Output = output, EvalEvery = int.MaxValue, KeepLast = 0, Forgetting = "off",
        });
    }

    private static (PretrainedModel Model, ClassificationTask Task, Collator Collator) Load(string model, string adapter, ITextTokenizer tokenizer, bool ignoreLabels)
    {
        var info = TaskInfo.Read(adapter)!;
        var m = AutoModel.ForSequenceClassification(model, info.Labels!.Count, info.Pooling);
        PeftModel.Load(m, adapter);
        return (m, new ClassificationTask(tokenizer, LabelMap.FromNames(info.Labels)) { MaxLength = info.MaxLength, IgnoreLabels = ignoreLabels }, Collator.For(tokenizer));
    }

    private static IReadOnlyList<ExampleOutcome> Outcomes(string model, string adapter, ITextTokenizer tokenizer, IReadOnlyList<DataRecord> records)
    {
        var (m, task, collator) = Load(model, adapter, tokenizer, ignoreLabels: false);
        using (m) return ExampleOutcome.Evaluate(m, task.Kind, task.Tokenize(records, DataIssueLog.Strict()), collator, 64, m.Device);
    }

    /// <summary>Indices into <paramref name="records"/> of the examples to label next.</summary>
    private static IReadOnlyList<int> Choose(string model, string adapter, ITextTokenizer tokenizer, IReadOnlyList<DataRecord> records, string strategy, int count, long seed)
    {
        var (m, task, collator) = Load(model, adapter, tokenizer, ignoreLabels: true);
        using (m)
        {
            var examples = task.Tokenize(records, DataIssueLog.Strict());
            if (examples.Count != records.Count) throw new InvalidOperationException("every pool record must tokenize");
            bool diverse = strategy.EndsWith("+diverse", StringComparison.Ordinal);
            var name = diverse ? strategy[..^"+diverse".Length] : strategy;
            var predictions = PoolPredictions.Compute(m, examples, collator, 64, m.Device, embeddings: diverse);
            var scores = name == "random" ? new double[records.Count] : predictions.Probabilities.Select(p => ActiveSelection.Score(name, p)).ToArray();
            return ActiveSelection.Choose(name, scores, count, seed, diverse, predictions.Embeddings);
        }
    }

    /// <summary>Records without their split column (a train file with one would be split again), as JSON lines.</summary>
    private static void Write(string path, IReadOnlyList<DataRecord> records)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllLines(path, records.Select(r =>
        {
            var o = new JsonObject();
            foreach (var (k, v) in r.Fields) if (k != "split") o[k] = v?.DeepClone();
            return o.ToJsonString();
        }));
    }

    private static void PrintTable(List<Row> results, IReadOnlyList<string> strategies, int budget)
    {
        var labels = results.Select(r => r.Labels).Distinct().Order().ToList();
        Console.WriteLine();
        Console.WriteLine("validation accuracy, mean over seeds (min-max), by labels used");
        Console.WriteLine("| strategy | " + string.Join(" | ", labels) + " | first round's labels forgotten at the end |");
        Console.WriteLine("|---|" + string.Concat(labels.Select(_ => "---:|")) + "---:|");
        foreach (var s in strategies)
        {
            var cells = labels.Select(n => results.Where(r => r.Strategy == s && r.Labels == n).Select(r => 100 * r.Accuracy).ToList())
                .Select(v => v.Count == 0 ? "–" : $"{v.Average():F1} ({v.Min():F1}-{v.Max():F1})");
            var last = results.Where(r => r.Strategy == s && r.Labels == labels[^1]).ToList();
            Console.WriteLine($"| {s} | {string.Join(" | ", cells)} | {(last.Count == 0 ? "–" : last.Average(r => r.FirstRoundForgotten).ToString("0.#", CultureInfo.InvariantCulture))} of {results.First().Labels} |");
        }
        var target = results.Where(r => r.Strategy == "random" && r.Labels == budget).Select(r => r.Accuracy).DefaultIfEmpty(double.NaN).Average();
        if (double.IsNaN(target)) return;
        Console.WriteLine($"random reaches {100 * target:F1}% with {budget} labels; the fewest labels at which each strategy's mean reaches it:");
        foreach (var s in strategies.Where(s => s != "random"))
        {
            var reach = labels.FirstOrDefault(n => results.Where(r => r.Strategy == s && r.Labels == n).Select(r => r.Accuracy).DefaultIfEmpty(0).Average() >= target);
            Console.WriteLine($"  {s}: {(reach == 0 ? $"not within {budget}" : reach.ToString(CultureInfo.InvariantCulture))}");
        }
    }

    private static void Plot(List<Row> results, IReadOnlyList<string> strategies, string path)
    {
        using var plot = new ScottPlot.Plot();
        foreach (var s in strategies)
        {
            var groups = results.Where(r => r.Strategy == s).GroupBy(r => r.Labels).OrderBy(g => g.Key).ToList();
            var x = groups.Select(g => (double)g.Key).ToArray();
            var scatter = plot.Add.Scatter(x, groups.Select(g => 100 * g.Average(r => r.Accuracy)).ToArray());
            scatter.LegendText = s;
            var bars = plot.Add.ErrorBar(x, groups.Select(g => 100 * g.Average(r => r.Accuracy)).ToArray(),
                groups.Select(g => 100 * (g.Max(r => r.Accuracy) - g.Average(r => r.Accuracy))).ToArray());
            bars.YErrorNegative = groups.Select(g => 100 * (g.Average(r => r.Accuracy) - g.Min(r => r.Accuracy))).ToArray();
            bars.Color = scatter.Color;
            // Forgetting of round 1's labelled examples, on the right axis: how many of them later rounds get wrong.
            var forgotten = plot.Add.Scatter(x, groups.Select(g => g.Average(r => (double)r.FirstRoundForgotten)).ToArray());
            forgotten.Color = scatter.Color;
            forgotten.LinePattern = ScottPlot.LinePattern.Dashed;
            forgotten.LegendText = $"{s}: round 1's labels now wrong";
            forgotten.Axes.YAxis = plot.Axes.Right;
        }
        plot.Axes.Right.Label.Text = "round 1's labels now wrong (dashed)";
        plot.Font.Set("DejaVu Sans");
        plot.Title("Validation accuracy against labels used (mean over seeds, bars: lowest to highest)");
        plot.XLabel("labels");
        plot.YLabel("validation accuracy (%)");
        plot.ShowLegend(ScottPlot.Edge.Bottom);
        plot.SavePng(path, 900, 550);
    }
}
