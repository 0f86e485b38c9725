using System.Globalization;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using Spectre.Console;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// The terminal side of a training run: a progress bar with loss, learning rate, tokens/s and time left on an
/// interactive terminal, plain periodic lines otherwise (CI logs, pipes), and the closing summary.
/// </summary>
public static class TrainProgress
{
    public static TrainingSummary Run(TrainingOptions options, TrainInterrupt interrupt, ITerminalStreams? streams = null)
    {
        streams ??= ProcessStreams.Instance;
        var mode = ProgressDisplay.Choose(streams);
        if (mode == ProgressMode.Lines)
            return TrainingSession.Run(options, new LineObserver(options.LogEvery), interrupt.Token);

        int width = streams.Width;
        var console = Terminal.ForProgress(mode, width);
        TrainingSummary? summary = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = ProgressDisplay.BarWidth },
                new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var observer = new BarObserver(ctx, console, width);
                // Written through the live console, the Ctrl-C notice appears above the bar instead of under its next redraw.
                interrupt.Say = message => console.MarkupLine(Markup.Escape(message));
                try
                {
                    summary = TrainingSession.Run(options, observer, interrupt.Token);
                }
                finally
                {
                    interrupt.Say = message => Console.Error.WriteLine(message);
                }
                observer.Finish(complete: !summary!.Interrupted);
            });
        return summary!;
    }

    /// <param name="resumeCommand">The command that continues the run, shown when it was interrupted.</param>
    public static void PrintSummary(TrainingSummary s, TrainingOptions o, string? resumeCommand = null)
    {
        // Never wrapped off a terminal (a log keeps each line whole); on one, Spectre's width is the terminal's.
        var console = Terminal.ForProgress(ProgressDisplay.Choose(ProcessStreams.Instance), ProcessStreams.Instance.Width);
        var task = s.Task.Length > 0 ? s.Task : o.Task;
        string metric = o.MetricForBest == "auto" ? (task == "classification" ? "accuracy" : "loss") : o.MetricForBest;
        string Format(double v) => metric is "accuracy" or "f1" ? $"{100 * v:F1}%" : v.ToString("F4", CultureInfo.InvariantCulture);
        console.WriteLine();
        string steps = s.Interrupted ? $"{NumberText.Count(s.Steps)} of {NumberText.Count(s.TotalSteps)} steps" : $"{NumberText.Count(s.Steps)} steps";
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"[bold]{Markup.Escape(s.StopReason)}[/] after {steps} in {NumberText.Count((long)Math.Round(s.TrainSeconds))} s; trainable {NumberText.Count(s.TrainableParameters)} of {NumberText.Count(s.AllParameters)} parameters ({100.0 * s.TrainableParameters / Math.Max(1, s.AllParameters):F2}%)"));
        if (s.After is { } after && after.TryGetValue(metric, out var value))
        {
            var parts = new List<string>();
            foreach (var (name, metrics) in s.Baselines)
                if (metrics.TryGetValue(metric, out var b)) parts.Add($"{name}: {Format(b)}");
            if (s.Before is { } before && before.TryGetValue(metric, out var bv)) parts.Add($"before training: {Format(bv)}");
            console.MarkupLine($"validation {metric}: [bold green]{Format(value)}[/]" + (parts.Count > 0 ? Markup.Escape($" ({string.Join("; ", parts)})") : ""));
        }
        // An interrupted run's adapter holds the best weights so far, not the run's result: it must not read as final.
        // Its lines are written unwrapped (Spectre wraps at the terminal's width): paths and the command are to be pasted.
        if (s.AdapterDir.Length > 0 && s.Interrupted)
            Console.Out.WriteLine($"partial adapter (interrupted at step {NumberText.Count(s.Steps)} of {NumberText.Count(s.TotalSteps)}): {s.AdapterDir}");
        else if (s.AdapterDir.Length > 0) console.MarkupLine($"adapter: [link]{Markup.Escape(s.AdapterDir)}[/]");
        if (s.Interrupted)
        {
            if (s.Checkpoint is { } checkpoint)
            {
                Console.Out.WriteLine($"checkpoint: {checkpoint}");
                if (resumeCommand != null) Console.Out.WriteLine($"to resume: {resumeCommand}");
            }
            else Console.Out.WriteLine("nothing was saved: the run stopped before its first step");
        }
        var report = Path.Combine(s.OutputDir, RunReport.FileName);
        if (File.Exists(report)) console.MarkupLine($"report:  {Markup.Escape(report)}");
        // Written past the console's line wrapping, so the command stays one line to paste.
        if (!s.Interrupted && NextStep(task, o.Model, s.AdapterDir) is { } next) Console.WriteLine($"next:    {next}");
    }

    /// <summary>The command that uses the adapter just written, with real paths, ready to paste.</summary>
    public static string? NextStep(string task, string modelDir, string adapterDir) => NextSteps.Use(task, modelDir, adapterDir);

    /// <summary>A step's fields in the order shown, each with how readily it is dropped when the line is too narrow (0: never).</summary>
    public static IReadOnlyList<(string Text, int Priority)> StepFields(StepRecord s, int total) =>
    [
        ($"step {NumberText.Count(s.Step)}/{NumberText.Count(total)}", 0),
        ($"epoch {NumberText.Count(s.Epoch + 1)}", 4),
        ("loss " + s.Loss.ToString("F4", CultureInfo.InvariantCulture), 1),
        ("lr " + NumberText.Scientific(s.LearningRate), 3),
        ($"{NumberText.Count((long)Math.Round(double.IsFinite(s.TokensPerSecond) ? s.TokensPerSecond : 0))} tok/s", 2),
    ];

    /// <summary>A step as one log line: every field.</summary>
    public static string Line(StepRecord s, int total) => string.Join("  ", StepFields(s, total).Select(f => f.Text));

    private static string EvalLine(EvalRecord e) =>
        $"eval at step {NumberText.Count(e.Step)}: " + string.Join("  ", e.Metrics.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F4}")));

    private static string StartLine(TrainingPlan plan) =>
        $"training {NumberText.Count(plan.TrainExamples)} examples ({NumberText.Count(plan.ValidationExamples)} validation), {NumberText.Count(plan.TotalSteps)} steps; "
        + $"trainable {NumberText.Count(plan.TrainableParameters)} of {NumberText.Count(plan.AllParameters)}" + (plan.Labels is { } l ? $"; labels {l}" : "");

    private sealed class LineObserver(int every) : ITrainerObserver
    {
        private int _total;
        public void OnStart(TrainingPlan plan)
        {
            _total = plan.TotalSteps;
            Console.WriteLine(StartLine(plan));
        }
        public void OnStep(StepRecord step) { if (every > 0 && (step.Step % every == 0 || step.Step == _total)) Console.WriteLine(Line(step, _total)); }
        public void OnEvaluation(EvalRecord evaluation) => Console.WriteLine(EvalLine(evaluation));
        public void OnMessage(string message) => Console.WriteLine(message);
    }

    private sealed class BarObserver(ProgressContext ctx, IAnsiConsole console, int width) : ITrainerObserver
    {
        private ProgressTask? _task;
        private int _total;

        public void OnStart(TrainingPlan plan)
        {
            _total = plan.TotalSteps;
            console.MarkupLine(Markup.Escape(StartLine(plan)));
            _task = ctx.AddTask("starting", maxValue: plan.TotalSteps);
            _task.Value = plan.StartStep;
        }

        public void OnStep(StepRecord step)
        {
            if (_task == null) return;
            _task.Value = step.Step;
            _task.Description = Markup.Escape(ProgressDisplay.BarText(StepFields(step, _total), width));
            // The clock stops with the last step: the final evaluation and saving that follow are not training time.
            if (step.Step >= _total) _task.StopTask();
        }

        public void OnEvaluation(EvalRecord evaluation) => console.MarkupLine(Markup.Escape(EvalLine(evaluation)));
        public void OnMessage(string message) => console.MarkupLine(Markup.Escape(message));
        /// <summary>A finished run fills the bar; an interrupted one leaves it where the run stopped.</summary>
        public void Finish(bool complete)
        {
            if (_task == null) return;
            if (complete) _task.Value = _task.MaxValue;
            _task.StopTask();
        }
    }
}
