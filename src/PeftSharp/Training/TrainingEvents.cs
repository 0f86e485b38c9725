namespace PeftSharp.Training;

/// <summary>One optimizer step, as logged to metrics.jsonl and shown in the progress bar.</summary>
public sealed record StepRecord(int Step, int Epoch, double Loss, double LearningRate, double? GradNorm, long Tokens,
    double TokensPerSecond, double ElapsedSeconds);

/// <summary>One evaluation on validation data (metric name to value, e.g. loss, accuracy, f1, perplexity).</summary>
public sealed record EvalRecord(int Step, int Epoch, IReadOnlyDictionary<string, double> Metrics, double ElapsedSeconds);

/// <summary>What a finished (or stopped) run produced, for the report and the CLI's last lines.</summary>
public sealed record TrainingSummary
{
    public required string OutputDir { get; init; }
    public required string AdapterDir { get; init; }
    public string? BestCheckpoint { get; init; }
    /// <summary>The step whose weights the adapter holds, and whether they are the best on validation (else the last).</summary>
    public int? AdapterStep { get; init; }
    public bool AdapterIsBest { get; init; }
    /// <summary>The malformed records skipped while reading and tokenizing the data, with file and line.</summary>
    public IReadOnlyList<PeftSharp.Data.DataIssue> Skipped { get; init; } = [];
    public required int Steps { get; init; }
    public required double TrainSeconds { get; init; }
    public required long TrainableParameters { get; init; }
    public required long AllParameters { get; init; }
    public double PeakRssGiB { get; init; }
    /// <summary>Validation metrics before training (the starting adapter or the frozen model).</summary>
    public IReadOnlyDictionary<string, double>? Before { get; init; }
    public IReadOnlyDictionary<string, double>? After { get; init; }
    /// <summary>Extra rows for the report: e.g. "frozen baseline", "full fine-tuning".</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Baselines { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, double>>();
    public string StopReason { get; init; } = "finished";
    /// <summary>The task trained, as given or inferred ("classification", "instruction", ...).</summary>
    public string Task { get; init; } = "";
    /// <summary>The steps the run was set to take.</summary>
    public int TotalSteps { get; init; }
    /// <summary>
    /// Stopped by a request (Ctrl-C) before its end: the adapter, if one was written, is partial (the best weights so
    /// far), and <see cref="Checkpoint"/> is where a resume continues.
    /// </summary>
    public bool Interrupted { get; init; }
    /// <summary>A resume of a run that had already ended: nothing was trained and nothing on disk changed.</summary>
    public bool AlreadyFinished { get; init; }
    /// <summary>The newest checkpoint when the run stopped, or null when there is none.</summary>
    public string? Checkpoint { get; init; }
    /// <summary>How the data was split, as it happened ("split column: 2400 train, 600 validation").</summary>
    public string? DataSplit { get; init; }
    public IReadOnlyList<StepRecord> StepLog { get; init; } = [];
    public IReadOnlyList<EvalRecord> Evaluations { get; init; } = [];
    /// <summary>Earlier rounds' validation sets, start against the weights written (<see cref="Rounds.RetentionCheck"/>).</summary>
    public IReadOnlyList<Rounds.SetComparison> Retention { get; init; } = [];
    /// <summary>What forgetting was measured as (<see cref="Rounds.ForgettingProbe.Description"/>), or null when it was not.</summary>
    public string? ForgettingMeasure { get; init; }
}
