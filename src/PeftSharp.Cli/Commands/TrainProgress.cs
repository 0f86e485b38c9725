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
    public static TrainingSummary Run(TrainingOptions options, TrainInterrupt interrupt)
    {
        var console = Terminal.Out();
        if (!console.Profile.Capabilities.Interactive)
            return TrainingSession.Run(options, new LineObserver(options.LogEvery), interrupt.Token);

        TrainingSummary? summary = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var observer = new BarObserver(ctx, console);
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
        var console = Terminal.Out();
        var task = s.Task.Length > 0 ? s.Task : o.Task;
        string metric = o.MetricForBest == "auto" ? (task == "classification" ? "accuracy" : "loss") : o.MetricForBest;
        string Format(double v) => metric is "accuracy" or "f1" ? $"{100 * v:F1}%" : v.ToString("F4", CultureInfo.InvariantCulture);
        console.WriteLine();
        string steps = s.Interrupted ? $"{s.Steps:N0} of {s.TotalSteps:N0} steps" : $"{s.Steps} steps";
        console.MarkupLine($"[bold]{Markup.Escape(s.StopReason)}[/] after {steps} in {s.TrainSeconds:F0} s; trainable {s.TrainableParameters:N0} of {s.AllParameters:N0} parameters ({100.0 * s.TrainableParameters / Math.Max(1, s.AllParameters):F2}%)");
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
            Console.Out.WriteLine($"partial adapter (interrupted at step {s.Steps:N0} of {s.TotalSteps:N0}): {s.AdapterDir}");
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
    public static string? NextStep(string task, string modelDir, string adapterDir)
    {
        if (adapterDir.Length == 0) return null;
        var model = Shell.Quote(Path.GetFullPath(modelDir));
        var adapter = Shell.Quote(adapterDir);
        return task switch
        {
            "classification" => $"peft predict --model {model} --adapter {adapter} --text \"Your text here\"",
            "instruction" or "causal-lm" or "seq2seq" => $"peft generate --model {model} --adapter {adapter} --prompt \"Your prompt here\"",
            _ => null,
        };
    }

    private static string Line(StepRecord s, int total) =>
        string.Create(CultureInfo.InvariantCulture, $"step {s.Step}/{total}  epoch {s.Epoch + 1}  loss {s.Loss:F4}  lr {s.LearningRate:E2}  {s.TokensPerSecond:F0} tok/s");

    private static string EvalLine(EvalRecord e) =>
        $"eval at step {e.Step}: " + string.Join("  ", e.Metrics.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F4}")));

    private sealed class LineObserver(int every) : ITrainerObserver
    {
        private int _total;
        public void OnStart(TrainingPlan plan)
        {
            _total = plan.TotalSteps;
            Console.WriteLine($"training {plan.TrainExamples:N0} examples ({plan.ValidationExamples:N0} validation), {plan.TotalSteps} steps; trainable {plan.TrainableParameters:N0} of {plan.AllParameters:N0}" + (plan.Labels is { } l ? $"; labels {l}" : ""));
        }
        public void OnStep(StepRecord step) { if (every > 0 && (step.Step % every == 0 || step.Step == _total)) Console.WriteLine(Line(step, _total)); }
        public void OnEvaluation(EvalRecord evaluation) => Console.WriteLine(EvalLine(evaluation));
        public void OnMessage(string message) => Console.WriteLine(message);
    }

    private sealed class BarObserver(ProgressContext ctx, IAnsiConsole console) : ITrainerObserver
    {
        private ProgressTask? _task;
        private int _total;

        public void OnStart(TrainingPlan plan)
        {
            _total = plan.TotalSteps;
            console.MarkupLine(Markup.Escape($"training {plan.TrainExamples:N0} examples ({plan.ValidationExamples:N0} validation), {plan.TotalSteps} steps; trainable {plan.TrainableParameters:N0} of {plan.AllParameters:N0}") + (plan.Labels is { } l ? Markup.Escape($"; labels {l}") : ""));
            _task = ctx.AddTask("starting", maxValue: plan.TotalSteps);
            _task.Value = plan.StartStep;
        }

        public void OnStep(StepRecord step)
        {
            if (_task == null) return;
            _task.Value = step.Step;
            _task.Description = Markup.Escape(Line(step, _total));
        }

        public void OnEvaluation(EvalRecord evaluation) => console.MarkupLine(Markup.Escape(EvalLine(evaluation)));
        public void OnMessage(string message) => console.MarkupLine(Markup.Escape(message));
        /// <summary>A finished run fills the bar; an interrupted one leaves it where the run stopped.</summary>
        public void Finish(bool complete) { if (_task != null && complete) _task.Value = _task.MaxValue; }
    }
}
