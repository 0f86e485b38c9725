namespace PeftSharp.Training;

/// <summary>
/// Everything a training run needs to know, with defaults a user can start from. One flat record so that a
/// YAML/JSON config file and command-line flags map onto it field for field (snake_case in files,
/// --kebab-case on the command line), and so that a checkpoint can store exactly what produced it.
/// </summary>
public sealed record TrainingOptions
{
    // --- what to train on
    /// <summary>Hugging Face model folder.</summary>
    public string Model { get; init; } = "";
    /// <summary>A finished adapter to continue training (iterative fine-tuning).</summary>
    public string? FromAdapter { get; init; }
    /// <summary>classification | causal-lm | instruction | seq2seq.</summary>
    public string Task { get; init; } = "classification";
    public string TrainData { get; init; } = "";
    /// <summary>A separate validation file; otherwise the data's split column, else a seeded split of TrainData.</summary>
    public string? ValidationData { get; init; }
    public double ValidationFraction { get; init; } = 0.1;
    public string? TextField { get; init; }
    public string? LabelField { get; init; }
    public string? PromptField { get; init; }
    public string? CompletionField { get; init; }
    public string? SourceField { get; init; }
    public string? TargetField { get; init; }
    /// <summary>Skip malformed records (reported) or stop at the first one.</summary>
    public bool SkipMalformed { get; init; } = true;
    public int MaxLength { get; init; } = 128;
    /// <summary>Causal LM: tokens per packed block.</summary>
    public int BlockSize { get; init; } = 256;

    // --- the adapter
    /// <summary>lora, ia3, loha, lokr or vera; "full" fine-tunes every parameter and "head" only the task head on the frozen model (baselines).</summary>
    public string Method { get; init; } = "lora";
    public int LoraR { get; init; } = 8;
    public double LoraAlpha { get; init; } = 16;
    public double LoraDropout { get; init; } = 0.05;
    /// <summary>Module name suffixes, a regex, or "all-linear"; null for the architecture's default.</summary>
    public IReadOnlyList<string>? TargetModules { get; init; }
    public IReadOnlyList<string>? ModulesToSave { get; init; }
    public bool UseRsLora { get; init; }
    public bool UseDora { get; init; }
    public string InitLoraWeights { get; init; } = "true";
    /// <summary>Classification head input: cls (BERT's pooler, as transformers) or mean (mean of token states).</summary>
    public string Pooling { get; init; } = "cls";

    // --- optimisation
    /// <summary>adamw | sgd.</summary>
    public string Optimizer { get; init; } = "adamw";
    public double LearningRate { get; init; } = 2e-4;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>LoRA+: B matrices learn this many times faster (null = off).</summary>
    public double? LoraPlusRatio { get; init; }
    /// <summary>constant | linear | cosine (each after warm-up).</summary>
    public string Scheduler { get; init; } = "linear";
    public double WarmupRatio { get; init; } = 0.06;
    /// <summary>Overrides WarmupRatio when positive.</summary>
    public int WarmupSteps { get; init; }
    public int Epochs { get; init; } = 3;
    /// <summary>Stop after this many optimizer steps (overrides Epochs when set).</summary>
    public int? MaxSteps { get; init; }
    public int BatchSize { get; init; } = 16;
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Clip the global gradient norm (0 = off).</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    // --- evaluation, checkpoints, stopping
    /// <summary>Evaluate every N optimizer steps (0 = at the end of each epoch).</summary>
    public int EvalEvery { get; init; }
    public int LogEvery { get; init; } = 10;
    /// <summary>Validation metric that picks the best checkpoint and drives early stopping (accuracy, f1, loss, perplexity).</summary>
    public string MetricForBest { get; init; } = "auto";
    /// <summary>Stop after this many evaluations without improvement (0 = never).</summary>
    public int EarlyStoppingPatience { get; init; }
    public double EarlyStoppingThreshold { get; init; }
    /// <summary>Checkpoint every N optimizer steps (0 = at every evaluation).</summary>
    public int SaveEvery { get; init; }
    /// <summary>Checkpoints kept besides the best.</summary>
    public int KeepLast { get; init; } = 2;

    // --- run
    public long Seed { get; init; } = 42;
    /// <summary>Run folder: checkpoints, the final adapter, metrics.jsonl, loss.png, report.md.</summary>
    public string Output { get; init; } = "";
    public string Device { get; init; } = "cpu";
    /// <summary>Continue from the newest checkpoint in Output.</summary>
    public bool Resume { get; init; }
    /// <summary>Recompute each layer during backward instead of keeping its activations (decoders): less memory, one more forward.</summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>Return large freed tensors to the system at once (glibc): lower peak memory, somewhat slower steps.</summary>
    public bool LowMemory { get; init; }
    /// <summary>CPU threads for libtorch (0 = all cores).</summary>
    public int Threads { get; init; }
    /// <summary>Also measure the frozen-model baseline and full fine-tuning for the report.</summary>
    public bool Baselines { get; init; }
    /// <summary>Also train only the head on the frozen model (classification): the baseline an adapter must beat.</summary>
    public bool FrozenBaseline { get; init; }
}
