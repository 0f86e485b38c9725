using PeftSharp.Training.Reporting;

namespace PeftSharp.Training;

/// <summary>
/// A whole training run as users want it: options checked and written down (config.yaml), a metrics log
/// (metrics.jsonl), the loss curve (loss.png), optional baselines (the frozen model with a trained head,
/// full fine-tuning), and report.md. The CLI adds only the progress display on top.
/// </summary>
public static class TrainingSession
{
    public const string FrozenBaselineName = "frozen model, trained head";

    public static TrainingSummary Run(TrainingOptions options, ITrainerObserver? observer = null, CancellationToken cancellation = default)
    {
        options = TaskInference.Resolve(TrainConfigFile.Validate(options), m => observer?.OnMessage(m));
        if (string.IsNullOrEmpty(options.Output)) throw new PeftException("no output folder: set output (--output)");
        if (!options.Resume && new Checkpoints(options.Output, options.KeepLast).List().Count > 0)
            throw new PeftException($"{options.Output} already holds checkpoints of a run: add --resume to continue it, or choose another --output");
        Directory.CreateDirectory(options.Output);
        TrainConfigFile.WriteRunConfig(options.Output, options);
        int resumedStep = options.Resume ? new Checkpoints(options.Output, options.KeepLast).List().LastOrDefault().Step : 0;
        string? mainMetric = options.MetricForBest == "auto" ? null : options.MetricForBest;
        var logPath = Path.Combine(options.Output, MetricsLog.FileName);
        var (steps, evaluations) = resumedStep > 0 && File.Exists(logPath) ? MetricsLog.Read(logPath) : ([], []);
        steps.RemoveAll(s => s.Step > resumedStep);
        evaluations.RemoveAll(e => e.Step > resumedStep);
        TrainingSummary summary;
        using (var log = resumedStep > 0 ? MetricsLog.Resume(options.Output, resumedStep) : MetricsLog.Create(options.Output))
            summary = new Trainer(options, new SessionObserver(log, steps, evaluations, options.Output, mainMetric, observer)).Run(cancellation);

        var baselines = new Dictionary<string, IReadOnlyDictionary<string, double>>();
        if ((options.Baselines || options.FrozenBaseline) && !cancellation.IsCancellationRequested)
        {
            foreach (var (name, method, lr) in new[] { (FrozenBaselineName, "head", 1e-3), ("full fine-tuning", "full", 5e-5) })
            {
                if (method == "head" && options.Task != "classification") continue;
                if (method == "full" && !options.Baselines) continue;
                observer?.OnMessage($"baseline: {name}");
                var baseline = options with
                {
                    Method = method, LearningRate = lr, FromAdapter = null, Resume = false, Baselines = false, FrozenBaseline = false,
                    SaveEvery = int.MaxValue, KeepLast = 1, // a baseline needs its scores, not checkpoints
                    Output = Path.Combine(options.Output, "baselines", method),
                };
                var result = new Trainer(baseline, observer).Run(cancellation);
                if (result.After != null) baselines[name] = result.After;
            }
        }

        LossPlot.Save(Path.Combine(options.Output, LossPlot.FileName), steps, evaluations, mainMetric);
        summary = summary with { Baselines = baselines, StepLog = steps, Evaluations = evaluations, Task = options.Task };
        RunReport.Write(summary, options);
        return summary;
    }

    /// <summary>Logs every record, keeps the run's history (including what came before a resume) and redraws the plot at each evaluation.</summary>
    private sealed class SessionObserver(MetricsLog log, List<StepRecord> steps, List<EvalRecord> evaluations, string runDir, string? mainMetric,
        ITrainerObserver? inner) : ITrainerObserver
    {
        public void OnStart(TrainingPlan plan) => inner?.OnStart(plan);

        public void OnStep(StepRecord step)
        {
            log.Append(step);
            steps.Add(step);
            inner?.OnStep(step);
        }

        public void OnEvaluation(EvalRecord evaluation)
        {
            log.Append(evaluation);
            evaluations.Add(evaluation);
            LossPlot.Save(Path.Combine(runDir, LossPlot.FileName), steps, evaluations, mainMetric);
            inner?.OnEvaluation(evaluation);
        }

        public void OnMessage(string message) => inner?.OnMessage(message);
    }
}
