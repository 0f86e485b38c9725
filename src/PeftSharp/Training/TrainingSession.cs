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

    /// <summary>
    /// Trains and reports. Nothing is written into the run folder until the trainer has accepted the options (a resume's
    /// checked against its checkpoint); a run folder this call created is removed again when the run fails or is
    /// interrupted before anything in it could be resumed. A resume of a finished run returns at once, changing nothing.
    /// </summary>
    public static TrainingSummary Run(TrainingOptions options, ITrainerObserver? observer = null, CancellationToken cancellation = default)
    {
        options = TaskInference.Resolve(TrainConfigFile.Validate(options), m => observer?.OnMessage(m));
        if (string.IsNullOrEmpty(options.Output)) throw new PeftException("no output folder: set output (--output)");
        var checkpoints = new Checkpoints(options.Output, options.KeepLast);
        if (!options.Resume && checkpoints.List().Count > 0)
            throw new PeftException($"{options.Output} already holds checkpoints of a run: add --resume to continue it, or choose another --output");
        bool existed = Directory.Exists(options.Output);
        int resumedStep = options.Resume ? checkpoints.List().LastOrDefault().Step : 0;
        string? mainMetric = options.MetricForBest == "auto" ? null : options.MetricForBest;
        var logPath = Path.Combine(options.Output, MetricsLog.FileName);
        var (steps, evaluations) = resumedStep > 0 && File.Exists(logPath) ? MetricsLog.Read(logPath) : ([], []);
        steps.RemoveAll(s => s.Step > resumedStep);
        evaluations.RemoveAll(e => e.Step > resumedStep);
        TrainingSummary summary;
        using (var session = new SessionObserver(options, resumedStep, steps, evaluations, mainMetric, observer))
        {
            try
            {
                summary = new Trainer(options, session).Run(cancellation);
            }
            catch
            {
                session.Dispose();
                if (!existed) RemoveIfNothingToResume(checkpoints, options.Output);
                throw;
            }
        }
        if (summary.AlreadyFinished) return summary;
        if (summary.Interrupted && summary.Steps == 0)
        {
            if (!existed) RemoveIfNothingToResume(checkpoints, options.Output);
            return summary;
        }

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

        // The final plot has the scores to beat: the frozen baseline, and before training (the step-0 evaluation).
        var references = new List<(string, IReadOnlyDictionary<string, double>)>();
        if ((summary.Before ?? evaluations.FirstOrDefault(e => e.Step == 0)?.Metrics) is { } beforeMetrics)
            references.Add((options.FromAdapter != null ? "starting adapter" : "before training", beforeMetrics));
        if (baselines.TryGetValue(FrozenBaselineName, out var frozen)) references.Add((FrozenBaselineName, frozen));
        LossPlot.Save(Path.Combine(options.Output, LossPlot.FileName), steps, evaluations, mainMetric, references: references);
        // A resumed run's "before training" is the evaluation its first part logged at step 0.
        summary = summary with
        {
            Baselines = baselines, StepLog = steps, Evaluations = evaluations, Task = options.Task,
            Before = summary.Before ?? evaluations.FirstOrDefault(e => e.Step == 0)?.Metrics,
        };
        RunReport.Write(summary, options);
        return summary;
    }

    /// <summary>A run folder this session made, removed when it holds nothing to resume (best effort: the run's own error matters more).</summary>
    private static void RemoveIfNothingToResume(Checkpoints checkpoints, string runDir)
    {
        try
        {
            if (Directory.Exists(runDir) && checkpoints.List().Count == 0) Directory.Delete(runDir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Logs every record, keeps the run's history (including what came before a resume) and redraws the plot at each
    /// evaluation. The run folder is first written at <see cref="OnStart"/>, once the trainer has accepted the options:
    /// config.yaml, then metrics.jsonl (truncated to the checkpoint's step on a resume).
    /// </summary>
    private sealed class SessionObserver(TrainingOptions options, int resumedStep, List<StepRecord> steps, List<EvalRecord> evaluations,
        string? mainMetric, ITrainerObserver? inner) : ITrainerObserver, IDisposable
    {
        private MetricsLog? _log;

        private MetricsLog Log => _log ?? throw new InvalidOperationException("the trainer reported a record before OnStart");

        public void OnStart(TrainingPlan plan)
        {
            TrainConfigFile.WriteRunConfig(options.Output, options);
            _log = resumedStep > 0 ? MetricsLog.Resume(options.Output, resumedStep) : MetricsLog.Create(options.Output);
            inner?.OnStart(plan);
        }

        public void OnStep(StepRecord step)
        {
            Log.Append(step);
            steps.Add(step);
            inner?.OnStep(step);
        }

        public void OnEvaluation(EvalRecord evaluation)
        {
            Log.Append(evaluation);
            evaluations.Add(evaluation);
            LossPlot.Save(Path.Combine(options.Output, LossPlot.FileName), steps, evaluations, mainMetric);
            inner?.OnEvaluation(evaluation);
        }

        public void OnMessage(string message) => inner?.OnMessage(message);

        public void OnRetention(IReadOnlyList<Rounds.SetComparison> sets)
        {
            Log.Append(steps.Count > 0 ? steps[^1].Step : resumedStep, sets);
            inner?.OnRetention(sets);
        }

        public void Dispose()
        {
            _log?.Dispose();
            _log = null;
        }
    }
}
