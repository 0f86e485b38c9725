using System.CommandLine;
using System.Globalization;
using PeftSharp.Options;
using PeftSharp.Training;
using PeftSharp.Training.Analysis;
using Spectre.Console;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft analyze</c>: scores every linear layer, norm and bias of a model on a sample of the task's data and writes
/// analysis.json (read by <c>peft train --target-modules auto</c>), analysis.md (the full table) and one heatmap per
/// estimator to a folder, printing the top of the ranking. The data and model flags are the training options' own.
/// </summary>
public static class AnalyzeCommand
{
    /// <summary>The training options that say what data and model to analyse, read exactly as training reads them.</summary>
    public static readonly IReadOnlyList<string> DataKeys =
    [
        "model", "train_data", "task", "validation_data", "validation_fraction", "text_field", "label_field", "prompt_field", "completion_field",
        "template", "source_field", "target_field", "skip_malformed", "max_length", "block_size", "pooling", "seed", "threads", "device",
    ];

    private static string Help =>
        "Score every linear layer, norm and bias of a model by how much it matters for a task, on a seeded sample of the training split " +
        "(the validation split is left alone, as in training). Estimators: " +
        string.Join("; ", ImportanceEstimator.All.Select(e => $"{e.Name}: {e.Measures} [{e.Paper}]")) +
        ". Writes analysis.json, analysis.md and heatmap-<estimator>.png to --out; peft train --target-modules auto reads analysis.json.";

    public static Command Create()
    {
        var cmd = new Command("analyze", Help);
        var flags = new SchemaFlags();
        foreach (var spec in DataKeys.Select(k => TrainingSchema.ByKey[k]).Concat<OptionSpec>(AnalysisSettings.Schema)) flags.Add(cmd, spec);
        var output = new Option<string>("--out", "-o") { Description = "Folder for analysis.json, analysis.md and the heatmaps (default analysis)", DefaultValueFactory = _ => "analysis" };
        var top = new Option<int>("--top") { Description = "Rows of the table printed (analysis.md has them all)", DefaultValueFactory = _ => 15 };
        cmd.Options.Add(output);
        cmd.Options.Add(top);
        HelpText.SetExamples(cmd, [("the bundled MiniLM sentiment run (what peft train does with no arguments)", "peft analyze --out runs/minilm-analysis"),
            ("which modules matter for a classification task",
            "peft analyze --model models/all-MiniLM-L6-v2 --data reviews.csv --out runs/reviews-analysis")]);
        cmd.SetAction(r => CommandRunner.Run(() =>
        {
            var given = flags.Given(r).ToList();
            bool Training(OptionSpec s) => s is not PropertyOption p || p.Property.DeclaringType != typeof(AnalysisSettings);
            return Run(given.Where(f => Training(f.Spec)).ToDictionary(f => f.Spec.Flag, f => f.Value),
                given.Where(f => !Training(f.Spec)).ToDictionary(f => f.Spec.Flag, f => f.Value), r.GetValue(output)!, r.GetValue(top));
        }));
        return cmd;
    }

    private static int Run(Dictionary<string, string> trainingFlags, Dictionary<string, string> analysisFlags, string outDir, int top)
    {
        // As peft train: neither model nor data given analyses the bundled MiniLM sentiment run, with its pooling and length.
        var start = !trainingFlags.ContainsKey("model") && !trainingFlags.ContainsKey("train-data")
            ? DefaultRun.Options(DefaultRun.EnsureModel(m => Console.Error.WriteLine(m)))
            : new TrainingOptions();
        var options = TrainConfigFile.ApplyOverrides(start, trainingFlags);
        if (string.IsNullOrWhiteSpace(options.Model)) throw new PeftException("--model is required with --data (a Hugging Face model folder)");
        if (string.IsNullOrWhiteSpace(options.TrainData)) throw new PeftException("--data is required with --model (the task's data: .jsonl, .csv or .parquet)");
        var settings = new AnalysisSettings().With(analysisFlags);
        // Refused before any work: an existing folder that is not an earlier analysis is left alone.
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !File.Exists(Path.Combine(outDir, AnalysisResult.FileName)))
            throw new PeftException($"{outDir}: the folder exists and holds something other than an analysis; choose another --out");

        var console = Terminal.ForProgress(ProgressDisplay.Choose(ProcessStreams.Instance), ProcessStreams.Instance.Width);
        AnalysisResult result;
        void Log(string message) => Console.Error.WriteLine($"peft: {message}");
        if (ProgressDisplay.Choose(ProcessStreams.Instance) == ProgressMode.Bar)
        {
            AnalysisResult? done = null;
            console.Progress().AutoClear(true)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = ProgressDisplay.BarWidth },
                    new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>();
                    done = ModuleAnalysis.Run(options, settings, Log, (stage, d, t) =>
                    {
                        if (!tasks.TryGetValue(stage, out var task)) tasks[stage] = task = ctx.AddTask(Markup.Escape(stage), maxValue: t);
                        task.Value = d;
                    });
                });
            result = done!;
        }
        else
        {
            string? last = null;
            result = ModuleAnalysis.Run(options, settings, Log, (stage, d, t) =>
            {
                if (stage != last) Log($"{stage} ({t})");
                last = stage;
            });
        }

        Directory.CreateDirectory(outDir);
        result.Write(Path.Combine(outDir, AnalysisResult.FileName));
        IO.AtomicFile.WriteAllText(Path.Combine(outDir, "analysis.md"), AnalysisTable.Markdown(result));
        foreach (var estimator in result.Estimators) AnalysisHeatmap.Save(Path.Combine(outDir, AnalysisHeatmap.FileName(estimator)), result, estimator);

        var outConsole = Terminal.ForProgress(ProgressDisplay.Choose(ProcessStreams.Instance), ProcessStreams.Instance.Width);
        var primary = result.Estimators[0];
        outConsole.MarkupLine(Markup.Escape($"{result.Modules.Count} candidates of {result.Model} scored on {result.Samples} examples of {result.Data} ({result.Task}); ranked by {primary}:"));
        var table = new Table();
        foreach (var (header, right) in AnalysisTable.Columns(result)) table.AddColumn(right ? new TableColumn(header).RightAligned() : new TableColumn(header));
        foreach (var row in AnalysisTable.Rows(result).Take(top)) table.AddRow(row.Select(Markup.Escape).ToArray());
        outConsole.Write(table);
        outConsole.MarkupLine(Markup.Escape($"wrote {Path.Combine(outDir, AnalysisResult.FileName)}, analysis.md and {string.Join(", ", result.Estimators.Select(AnalysisHeatmap.FileName))}"));
        return 0;
    }
}
