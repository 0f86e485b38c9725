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
    public static TrainingSummary Run(TrainingOptions options, CancellationToken cancellation)
    {
        var console = Terminal.Out();
        if (!console.Profile.Capabilities.Interactive)
            return TrainingSession.Run(options, new LineObserver(options.LogEvery), cancellation);

        TrainingSummary? summary = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var observer = new BarObserver(ctx, console);
                summary = TrainingSession.Run(options, observer, cancellation);
                observer.Finish();
            });
        return summary!;
    }

    public static void PrintSummary(TrainingSummary s, TrainingOptions o)
    {
        var console = Terminal.Out();
        var task = s.Task.Length > 0 ? s.Task : o.Task;
        string metric = o.MetricForBest == "auto" ? (task == "classification" ? "accuracy" : "loss") : o.MetricForBest;
        string Format(double v) => metric is "accuracy" or "f1" ? $"{100 * v:F1}%" : v.ToString("F4", CultureInfo.InvariantCulture);
        console.WriteLine();
        console.MarkupLine($"[bold]{Markup.Escape(s.StopReason)}[/] after {s.Steps} steps in {s.TrainSeconds:F0} s; trainable {s.TrainableParameters:N0} of {s.AllParameters:N0} parameters ({100.0 * s.TrainableParameters / Math.Max(1, s.AllParameters):F2}%)");
        if (s.After is { } after && after.TryGetValue(metric, out var value))
        {
            var parts = new List<string>();
            foreach (var (name, metrics) in s.Baselines)
                if (metrics.TryGetValue(metric, out var b)) parts.Add($"{name}: {Format(b)}");
            if (s.Before is { } before && before.TryGetValue(metric, out var bv)) parts.Add($"before training: {Format(bv)}");
            console.MarkupLine($"validation {metric}: [bold green]{Format(value)}[/]" + (parts.Count > 0 ? Markup.Escape($" ({string.Join("; ", parts)})") : ""));
        }
        if (s.AdapterDir.Length > 0) console.MarkupLine($"adapter: [link]{Markup.Escape(s.AdapterDir)}[/]");
        console.MarkupLine($"report:  {Markup.Escape(Path.Combine(s.OutputDir, RunReport.FileName))}");
        // Written past the console's line wrapping, so the command stays one line to paste.
        if (NextStep(task, o.Model, s.AdapterDir) is { } next) Console.WriteLine($"next:    {next}");
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
        public void Finish() { if (_task != null) _task.Value = _task.MaxValue; }
    }
}
