using System.Globalization;
using System.Text;
using PeftSharp.IO;

namespace PeftSharp.Training.Reporting;

/// <summary>
/// report.md in the run folder: what was trained on what, with which key options, what it cost (time, throughput,
/// memory, trainable share) and what it gained (validation metrics before vs after, next to baselines), with the loss
/// plot. Markdown because it reads as plain text in a terminal and renders on any code host; short because it is the
/// page someone opens to decide whether a run was worth it, and config.yaml and metrics.jsonl hold the rest.
/// </summary>
public static class RunReport
{
    public const string FileName = "report.md";

    /// <summary>
    /// Writes report.md into the summary's run folder, atomically, and returns its path. <paramref name="userBaselines"/>
    /// are rows the user supplies (e.g. a published result); loss.png is linked when it is in the run folder.
    /// </summary>
    public static string Write(TrainingSummary summary, TrainingOptions options,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>? userBaselines = null)
    {
        Directory.CreateDirectory(summary.OutputDir);
        var path = Path.Combine(summary.OutputDir, FileName);
        bool plot = File.Exists(Path.Combine(summary.OutputDir, LossPlot.FileName));
        AtomicFile.WriteAllText(path, Render(summary, options, userBaselines, plot ? LossPlot.FileName : null));
        return path;
    }

    /// <summary>The report's Markdown; <paramref name="lossPlot"/> is the image to embed (relative to the report), or null for none.</summary>
    public static string Render(TrainingSummary summary, TrainingOptions options,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>? userBaselines = null, string? lossPlot = LossPlot.FileName)
    {
        var md = new StringBuilder();
        var o = options;
        string modelName = string.IsNullOrEmpty(o.Model) ? "(no model)" : Path.GetFileName(Path.TrimEndingDirectorySeparator(o.Model));
        md.Append("# Training report: ").Append(Escape(MethodName(o))).Append(" on ").Append(Escape(modelName)).Append("\n\n");
        md.Append($"{Count(summary.Steps)} steps in {Duration(summary.TrainSeconds)}; stopped: {Escape(summary.StopReason)}.\n\n");

        Table(md, ["", ""],
        [
            ["model", Code(o.Model)],
            .. QuantizationRow(o),
            .. PrecisionRow(o),
            ["task", Escape(o.Task)],
            ["data", DataLine(o, summary.DataSplit)],
            ["method", Escape(MethodLine(o))],
            .. LayerGroupsRow(o),
            .. AutoTargetsRow(summary.OutputDir),
            .. AutoLayerGroupsRow(o, summary.OutputDir),
            ["run folder", Code(summary.OutputDir)],
            ["adapter", Code(summary.AdapterDir.Length > 0 ? Path.GetFullPath(summary.AdapterDir) : "") + AdapterNote(summary)],
        ]);

        md.Append("## Options\n\n");
        var steps = o.MaxSteps is { } max ? $"max {Count(max)} steps" : $"{Count(o.Epochs)} epochs";
        var warmup = o.WarmupSteps > 0 ? $"{Count(o.WarmupSteps)} warm-up steps" : $"warm-up {Num(o.WarmupRatio * 100)}%";
        Table(md, ["option", "value"],
        [
            ["optimizer", Escape($"{o.Optimizer}, learning rate {NumberText.Value(o.LearningRate)}, weight decay {Num(o.WeightDecay)}"
                + (o.LoraPlusRatio is { } ratio ? $", LoRA+ ratio {Num(ratio)}" : ""))],
            ["schedule", Escape($"{o.Scheduler}, {warmup}")],
            ["length", Escape(steps)],
            ["batch", Escape($"{Count(o.BatchSize)} × {Count(o.GradientAccumulation)} accumulation = {Count((long)o.BatchSize * o.GradientAccumulation)} per step")],
            ["max_length", o.Task == "causal-lm" ? $"{Count(o.BlockSize)} (block size)" : Count(o.MaxLength)],
            ["max_grad_norm", o.MaxGradNorm > 0 ? Num(o.MaxGradNorm) : "off"],
            ["metric_for_best", Escape(o.MetricForBest) + (o.EarlyStoppingPatience > 0 ? $" (early stopping after {o.EarlyStoppingPatience} evaluations)" : "")],
            ["seed", o.Seed.ToString(CultureInfo.InvariantCulture)],
        ]);
        md.Append("All options: [config.yaml](config.yaml).\n\n");

        md.Append("## Cost\n\n");
        var throughput = summary.StepLog.Select(s => s.TokensPerSecond).Where(t => double.IsFinite(t) && t > 0).Order().ToList();
        Table(md, ["", ""],
        [
            ["trainable parameters", summary.AllParameters > 0
                ? $"{Count(summary.TrainableParameters)} of {Count(summary.AllParameters)} ({Percent(100.0 * summary.TrainableParameters / summary.AllParameters)})"
                : Count(summary.TrainableParameters)],
            ["training time", Duration(summary.TrainSeconds)],
            ["steps", Count(summary.Steps)],
            ["tokens/s", throughput.Count > 0 ? $"{Count((long)Math.Round(throughput[throughput.Count / 2]))} (median of logged steps)" : "n/a"],
            ["peak memory", summary.PeakRssGiB > 0 ? $"{summary.PeakRssGiB.ToString("0.00", CultureInfo.InvariantCulture)} GiB (resident)" : "n/a"],
            ["stop reason", Escape(summary.StopReason)],
            ["best checkpoint", summary.BestCheckpoint is { } best ? Code(Relative(best, summary.OutputDir)) : "none"],
        ]);

        var rows = new List<(string Name, IReadOnlyDictionary<string, double> Metrics)>();
        if (summary.Before != null) rows.Add((o.FromAdapter != null ? "before (starting adapter)" : "before training", summary.Before));
        if (summary.After != null) rows.Add(("after training", summary.After));
        foreach (var (name, metrics) in summary.Baselines) rows.Add((name, metrics));
        foreach (var (name, metrics) in userBaselines ?? new Dictionary<string, IReadOnlyDictionary<string, double>>()) rows.Add((name, metrics));
        if (rows.Count > 0)
        {
            md.Append("## Validation\n\n");
            var names = rows.SelectMany(r => r.Metrics.Keys).Where(k => !Rounds.ForgettingProbe.MetricKeys.Contains(k)).Distinct().OrderBy(k => k == "loss" ? 0 : 1).ToList();
            var table = rows.Select(r => (IReadOnlyList<string>)[Escape(r.Name), .. names.Select(n => r.Metrics.TryGetValue(n, out var v) ? Metric(v) : "–")]).ToList();
            if (summary.Before != null && summary.After != null)
                table.Insert(2, ["change", .. names.Select(n => summary.Before.TryGetValue(n, out var b) && summary.After.TryGetValue(n, out var a) ? Signed(a - b) : "–")]);
            Table(md, ["", .. names.Select(Escape)], table, numeric: true);
        }

        ForgettingSection(md, summary, o);
        RetentionSection(md, summary.Retention);
        Skipped(md, summary.Skipped);
        if (lossPlot != null) md.Append("## Loss\n\n").Append("![training and validation loss](").Append(lossPlot).Append(")\n");
        if (!summary.Interrupted && NextSteps.For(summary, o) is { Count: > 0 } next)
        {
            md.Append("\n## Next steps\n\n");
            foreach (var (what, command) in next) md.Append("- ").Append(what).Append(":\n\n  ```sh\n  ").Append(command).Append("\n  ```\n");
        }
        return md.ToString();
    }

    /// <summary>
    /// How far the model drifted from the original on general text: the original's value (adapters disabled), before and
    /// after this run, and the change. Language models: general-text loss and forgetting (after − original); encoders:
    /// embedding agreement with the original.
    /// </summary>
    private static void ForgettingSection(StringBuilder md, TrainingSummary s, TrainingOptions o)
    {
        var keys = Rounds.ForgettingProbe.MetricKeys;
        var after = s.After?.Where(kv => keys.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        if (after is not { Count: > 0 }) return;
        var before = s.Before?.Where(kv => keys.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value) ?? [];
        md.Append("## Forgetting\n\n");
        md.Append(Escape(s.ForgettingMeasure ?? "drift from the original on general text")).Append(".\n\n");
        string start = o.FromAdapter != null ? "before (starting adapter)" : "before training";
        if (after.TryGetValue("general_loss", out var loss) && after.TryGetValue("forgetting", out var forgetting))
        {
            double original = loss - forgetting;
            var rows = new List<IReadOnlyList<string>> { new[] { "original model", Metric(original), Signed(0) } };
            if (before.TryGetValue("general_loss", out var b) && before.TryGetValue("forgetting", out var bf)) rows.Add([Escape(start), Metric(b), Signed(bf)]);
            rows.Add(["after training", Metric(loss), Signed(forgetting)]);
            Table(md, ["", "general-text loss", "forgetting (− original)"], rows, numeric: true);
            md.Append("Forgetting is the rise of the mean per-token cross-entropy on the general text over the original's (0: nothing lost).\n\n");
        }
        else
        {
            var rows = new List<IReadOnlyList<string>> { new[] { "original model", Metric(1), Metric(1) } };
            if (before.TryGetValue("embedding_cosine", out var bc) && before.TryGetValue("neighbour_overlap", out var bo)) rows.Add([Escape(start), Metric(bc), Metric(bo)]);
            rows.Add(["after training", Metric(after.GetValueOrDefault("embedding_cosine", double.NaN)), Metric(after.GetValueOrDefault("neighbour_overlap", double.NaN))]);
            Table(md, ["", "embedding cosine", "neighbour overlap"], rows, numeric: true);
            md.Append("Agreement of the model's sentence embeddings with the original's (1: unchanged): the mean cosine of each text's two embeddings, "
                + "and the share of each text's 10 nearest neighbours that stayed its neighbours.\n\n");
        }
    }

    /// <summary>Earlier rounds' sets: the metric at the start and after, and the example-wise transitions.</summary>
    private static void RetentionSection(StringBuilder md, IReadOnlyList<Rounds.SetComparison> sets)
    {
        if (sets.Count == 0) return;
        md.Append("## Earlier rounds\n\n");
        md.Append("Each earlier round's validation set, evaluated on the model this run started from and on the weights it wrote. "
            + "right→wrong is forgetting, wrong→right backward transfer (rates: of the examples right, or wrong, before).\n\n");
        var rows = new List<IReadOnlyList<string>>();
        foreach (var set in sets)
        {
            string metric = set.After.ContainsKey("accuracy") ? "accuracy" : "loss";
            double b = set.Before.GetValueOrDefault(metric, double.NaN), a = set.After.GetValueOrDefault(metric, double.NaN);
            var t = set.Transitions;
            rows.Add([Escape(set.Name), Count(set.Examples), metric, Metric(b), Metric(a), Signed(a - b),
                t != null ? $"{Count(t.RightToWrong)} ({Percent(100 * t.ForgettingRate)})" : "–",
                t != null ? $"{Count(t.WrongToRight)} ({Percent(100 * t.BackwardTransferRate)})" : "–"]);
        }
        Table(md, ["set", "examples", "metric", "before", "after", "change", "right→wrong", "wrong→right"], rows, numeric: true);
        foreach (var set in sets.Where(s => s.Changed.Count > 0))
        {
            md.Append($"Changed in {Escape(set.Name)} (at most {Rounds.SetComparison.ChangedShown}):\n\n");
            Table(md, ["example", "change", "label", "before", "after", "text"], set.Changed.Select(c => (IReadOnlyList<string>)
                [Code(c.Origin), c.Change, Escape(c.Truth ?? "–"), Escape(c.Before ?? Metric(c.LossBefore)), Escape(c.After ?? Metric(c.LossAfter)), Escape(c.Text)]));
        }
    }

    /// <summary>Skipped records listed at most this many, then counted.</summary>
    public const int SkippedShown = 20;

    /// <summary>Which weights the adapter holds: partial (interrupted), the best checkpoint's, or the last step's.</summary>
    private static string AdapterNote(TrainingSummary s)
    {
        if (s.AdapterDir.Length == 0) return "";
        if (s.Interrupted) return $" (partial: interrupted at step {Count(s.Steps)} of {Count(s.TotalSteps)}; `--resume` continues the run)";
        if (s.AdapterStep is not { } step) return "";
        return s.AdapterIsBest && step != s.Steps ? $" (the best checkpoint on validation: step {Count(step)} of {Count(s.Steps)})"
            : s.AdapterIsBest ? $" (the last step, {Count(step)}, which is also the best on validation)"
            : $" (the last step, {Count(step)})";
    }

    private static void Skipped(StringBuilder md, IReadOnlyList<PeftSharp.Data.DataIssue> skipped)
    {
        if (skipped.Count == 0) return;
        md.Append("## Skipped records\n\n");
        md.Append($"{Count(skipped.Count)} malformed record{(skipped.Count == 1 ? " was" : "s were")} skipped (`skip_malformed: true`):\n\n");
        foreach (var issue in skipped.Take(SkippedShown)) md.Append("- ").Append(Code($"{issue.Source}:{issue.Line}")).Append(": ").Append(Escape(issue.Reason)).Append('\n');
        if (skipped.Count > SkippedShown) md.Append($"- and {Count(skipped.Count - SkippedShown)} more\n");
        md.Append('\n');
    }

    /// <summary>A baseline row from the command line: "NAME: metric=value, metric=value" (e.g. "paper: accuracy=0.91").</summary>
    public static (string Name, IReadOnlyDictionary<string, double> Metrics) ParseBaseline(string text)
    {
        var bad = new PeftException($"baseline \"{text}\": expected NAME: metric=value[, metric=value...] (e.g. \"paper: accuracy=0.91\")");
        int colon = text.IndexOf(':');
        if (colon <= 0) throw bad;
        var metrics = new Dictionary<string, double>();
        foreach (var pair in text[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0
                || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) throw bad;
            metrics[parts[0]] = value;
        }
        if (metrics.Count == 0) throw bad;
        return (text[..colon].Trim(), metrics);
    }

    private static string MethodName(TrainingOptions o) => TrainingMethods.Title(o);

    private static string MethodLine(TrainingOptions o) => TrainingMethods.Describe(o);

    /// <summary>The groups in one line when the run has them ("layers 0-1 frozen; 2-3 biases only (BitFit); 4-5 LoRA and biases").</summary>
    private static string[][] LayerGroupsRow(TrainingOptions o) =>
        !LayerGroups.IsAuto(o.LayerGroups) && LayerGroups.Parse(o.LayerGroups) is { } groups ? [["layer groups", Escape(groups.Describe(TrainingMethods.Title(o)))]] : [];

    /// <summary>What target_modules auto chose and why, from the run folder's auto-targets.json.</summary>
    private static string[][] AutoTargetsRow(string runDir) =>
        runDir.Length > 0 && File.Exists(Path.Combine(runDir, Analysis.AutoTargetPlan.FileName))
            ? [["auto targets", Escape(Analysis.AutoTargetPlan.Read(Path.Combine(runDir, Analysis.AutoTargetPlan.FileName)).Describe())]]
            : [];

    /// <summary>"nf4 with double quantization, compute float32" when the base was held in 4 bits.</summary>
    private static string[][] QuantizationRow(TrainingOptions o) =>
        Models.Quantization.QuantizationConfig.From(o.Quantize, o.DoubleQuant, o.ComputeDtype) is { } q ? [["base in 4 bits", Escape(q.ToString())]] : [];

    /// <summary>The training precision and why (auto says what it found), when it is not plain fp32.</summary>
    private static string[][] PrecisionRow(TrainingOptions o) =>
        o.Precision == "fp32" ? [] : [["precision", Escape(Precision.Resolve(o.Precision, Devices.Parse(o.Device)).Reason)]];

    /// <summary>What layer_groups auto placed and why, from the run folder's layer-groups.json.</summary>
    private static string[][] AutoLayerGroupsRow(TrainingOptions o, string runDir)
    {
        var path = Path.Combine(runDir, Analysis.LayerGroupPlan.FileName);
        if (!LayerGroups.IsAuto(o.LayerGroups) || runDir.Length == 0 || !File.Exists(path)) return [];
        var plan = Analysis.LayerGroupPlan.Read(path);
        return [["layer groups", Escape($"{plan.Groups.Describe(TrainingMethods.Title(o))} (auto: {plan.Describe()})")]];
    }

    private static string DataLine(TrainingOptions o, string? split)
    {
        if (split != null) return $"train {Code(o.TrainData)}; validation by {Escape(split)}";
        var validation = o.ValidationData != null ? Code(o.ValidationData)
            : $"{Num(o.ValidationFraction * 100)}% of the training data (seed {o.Seed}) unless it has a split column";
        return $"train {Code(o.TrainData)}; validation {validation}";
    }

    /// <summary>A GitHub-flavoured table; <paramref name="numeric"/> right-aligns every column after the first.</summary>
    private static void Table(StringBuilder md, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, bool numeric = false)
    {
        md.Append("| ").AppendJoin(" | ", header).Append(" |\n");
        md.Append('|').AppendJoin("|", header.Select((_, i) => i > 0 && numeric ? "---:" : "---")).Append("|\n");
        foreach (var row in rows) md.Append("| ").AppendJoin(" | ", row).Append(" |\n");
        md.Append('\n');
    }

    private static string Relative(string path, string folder)
    {
        if (path.Length == 0 || folder.Length == 0) return path; // a run without a folder or checkpoint (full fine-tuning in memory)
        var relative = Path.GetRelativePath(Path.GetFullPath(folder), Path.GetFullPath(path));
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? path : relative;
    }

    /// <summary>Pipes end a table cell even inside code spans, so they are escaped everywhere.</summary>
    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static string Code(string text) => text.Length == 0 ? "–" : text.Contains('`') ? Escape(text) : $"`{Escape(text)}`";

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Num(double x) => x.ToString("G6", CultureInfo.InvariantCulture);

    private static string Percent(double p) => (p >= 1 ? p.ToString("0.##", CultureInfo.InvariantCulture) : p.ToString("G3", CultureInfo.InvariantCulture)) + "%";

    private static string Metric(double v) => !double.IsFinite(v) ? v.ToString(CultureInfo.InvariantCulture)
        : Math.Abs(v) >= 1000 ? v.ToString("N1", CultureInfo.InvariantCulture) : v.ToString("0.0000", CultureInfo.InvariantCulture);

    private static string Signed(double v) => double.IsFinite(v) && v >= 0 ? "+" + Metric(v) : Metric(v);

    private static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "n/a";
        if (seconds < 60) return $"{seconds.ToString("0.0", CultureInfo.InvariantCulture)} s";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes:00} min" : $"{t.Minutes} min {t.Seconds:00} s";
    }
}
