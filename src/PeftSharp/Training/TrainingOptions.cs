using PeftSharp.Options;

namespace PeftSharp.Training;

/// <summary>
/// Everything a training run needs to know, with defaults a user can start from. One flat record so that a
/// YAML/JSON config file and command-line flags map onto it field for field (snake_case in files,
/// --kebab-case on the command line), and so that a checkpoint can store exactly what produced it.
/// Each property is an option declared once by its [Option] (help, range, choices, other spellings); a method's own
/// options (LoRA's use_dora, ...) are declared in the method's folder and their values kept in <see cref="MethodOptions"/>.
/// </summary>
public sealed record TrainingOptions
{
    // --- what to train on
    [Option("Hugging Face model folder (default: all-MiniLM-L6-v2, imported from the bundled package)", IsPath = true, ShortFlags = ["-m"])]
    public string Model { get; init; } = "";

    [Option("A finished adapter folder to continue training (iterative fine-tuning)", IsPath = true)]
    public string? FromAdapter { get; init; }

    [Option("What the data teaches; auto: the from_adapter's task, else the data's fields (prompt/completion or messages: instruction, " +
        "source/target: seq2seq, text and label: classification, text alone: causal-lm), else the model's architecture",
        Choices = ["classification", "causal-lm", "instruction", "seq2seq", "auto"])]
    public string Task { get; init; } = TaskInference.Auto;

    [Option("Training data: .jsonl, .csv or .parquet (default: the bundled UCI sentiment sentences)", IsPath = true, ShortFlags = ["--data"])]
    public string TrainData { get; init; } = "";

    [Option("A separate validation file (default: the data's split column, else validation_fraction of the training data)", IsPath = true)]
    public string? ValidationData { get; init; }

    [Option("Share of the data held out for validation when there is no split column or file", Min = 0, Max = 1, MaxExclusive = true)]
    public double ValidationFraction { get; init; } = 0.1;

    [Option("Field with the text (default text; classification and causal-lm)")]
    public string? TextField { get; init; }

    [Option("Field with the label (default label)")]
    public string? LabelField { get; init; }

    [Option("Instruction data: the prompt field (default prompt)")]
    public string? PromptField { get; init; }

    [Option("Instruction data: the answer field (default completion)")]
    public string? CompletionField { get; init; }

    [Option("Instruction data: how a record becomes text. A text with {prompt} and {completion} (\\n for a new line; default " +
        "\"### Instruction:\\n{prompt}\\n\\n### Response:\\n{completion}\"), or a chat template family for every record " +
        "(chatml, llama-3, llama-2, mistral, zephyr), or plain; chat data uses the model's chat template when it has one " +
        "(plain: PeftSharp's \"### role:\" text). Recorded in the adapter; peft generate applies it")]
    public string? Template { get; init; }

    [Option("Seq2seq: the source field (default source)")]
    public string? SourceField { get; init; }

    [Option("Seq2seq: the target field (default target)")]
    public string? TargetField { get; init; }

    [Option("Skip malformed records, reporting each with file and line (true), or stop at the first (false)")]
    public bool SkipMalformed { get; init; } = true;

    [Option("Truncate texts to this many tokens", Min = 1)]
    public int MaxLength { get; init; } = 128;

    [Option("Causal LM: tokens per packed block", Min = 1)]
    public int BlockSize { get; init; } = 256;

    // --- the adapter
    [Option("Adapter method (see `peft methods`); full (every parameter) and head (only the task head) are baselines", ChoicesFrom = typeof(TrainingMethods))]
    public string Method { get; init; } = "lora";

    [Option("Rank of the adapter's low-rank factors (methods that have one)", Min = 1, Aliases = ["lora_r"])]
    public int Rank { get; init; } = 8;

    [Option("Scale of the adapter's update: alpha/r (methods that have one)", Min = 0, MinExclusive = true, Aliases = ["lora_alpha"])]
    public double Alpha { get; init; } = 16;

    [Option("Dropout on the adapter's input during training (methods that have one)", Min = 0, Max = 1, MaxExclusive = true, Aliases = ["lora_dropout"])]
    public double Dropout { get; init; } = 0.05;

    [Option("Modules to adapt: comma-separated name suffixes, a regex, all-linear, or auto (chosen by importance within trainable_budget, " +
        "see peft analyze) (default: the method's for the architecture)", NoEmptyItems = true)]
    public IReadOnlyList<string>? TargetModules { get; init; }

    [Option("target_modules auto: the adapter parameters to spend, a count (73728) or a percentage of the model's parameters (0.3%); " +
        "modules and their ranks (rank_pattern) are chosen to fit it")]
    public string? TrainableBudget { get; init; }

    [Option("target_modules auto and layer_groups auto: the estimator that ranks the modules (and layers)", ChoicesFrom = typeof(Analysis.EstimatorNames))]
    public string TargetEstimator { get; init; } = "sensitivity";

    [Option("target_modules auto and layer_groups auto: a peft analyze result (analysis.json or its folder) to choose from, instead of analysing the training data first", IsPath = true)]
    public string? Analysis { get; init; }

    [Option("Whole modules to train and save with the adapter (e.g. a new head)", NoEmptyItems = true)]
    public IReadOnlyList<string>? ModulesToSave { get; init; }

    [Option("Per-layer groups of the transformer stack, as SPAFIT: comma-separated from-to:kind ranges covering every layer once; " +
        "frozen (nothing trains), bias (only the biases, BitFit) or adapter (the method there, with its biases), e.g. 0-1:frozen,2-3:bias,4-5:adapter; " +
        "or auto: the analysis ranks the layers, the most important third gets the adapter, the next third biases, the rest is frozen " +
        "(default: the method in every layer)")]
    public string? LayerGroups { get; init; }

    [Option("Classifier input: cls (BERT's pooler, as transformers) or mean (mean of token states)", Choices = ["cls", "mean"])]
    public string Pooling { get; init; } = "cls";

    // --- optimisation
    [Option("The optimizer: AdamW (decoupled weight decay) or SGD with momentum", Choices = ["adamw", "sgd"])]
    public string Optimizer { get; init; } = "adamw";

    [Option("Peak learning rate", Min = 0, MinExclusive = true)]
    public double LearningRate { get; init; } = 2e-4;

    [Option("Decoupled weight decay (not applied to biases and norms)", Min = 0)]
    public double WeightDecay { get; init; } = 0.01;

    [Option("AdamW: decay rate of the gradient average", Min = 0, Max = 1, MaxExclusive = true)]
    public double Beta1 { get; init; } = 0.9;

    [Option("AdamW: decay rate of the squared-gradient average", Min = 0, Max = 1, MaxExclusive = true)]
    public double Beta2 { get; init; } = 0.999;

    [Option("AdamW: added to the denominator for numerical stability", Min = 0, MinExclusive = true)]
    public double Epsilon { get; init; } = 1e-8;

    [Option("SGD momentum", Min = 0, Max = 1, MaxExclusive = true)]
    public double Momentum { get; init; } = 0.9;

    [Option("LoRA+: B matrices learn this many times faster than A", Min = 0, MinExclusive = true, RangeNote = "or null for off")]
    public double? LoraPlusRatio { get; init; }

    [Option("Learning-rate schedule after warm-up", Choices = ["constant", "linear", "cosine"])]
    public string Scheduler { get; init; } = "linear";

    [Option("Share of the steps spent warming the learning rate up from 0", Min = 0, Max = 1, MaxExclusive = true)]
    public double WarmupRatio { get; init; } = 0.06;

    [Option("Warm-up steps; overrides warmup_ratio when positive", Min = 0)]
    public int WarmupSteps { get; init; }

    [Option("Passes over the training data", MayChangeOnResume = true)]
    public int Epochs { get; init; } = 3;

    [Option("Stop after this many optimizer steps; overrides epochs", Min = 1, RangeNote = "or null to train for epochs", MayChangeOnResume = true)]
    public int? MaxSteps { get; init; }

    [Option("Examples per micro-batch", Min = 1)]
    public int BatchSize { get; init; } = 16;

    [Option("Micro-batches per optimizer step", Min = 1)]
    public int GradientAccumulation { get; init; } = 1;

    [Option("Clip the global gradient norm to this", Min = 0, RangeNote = "0 = no clipping")]
    public double MaxGradNorm { get; init; } = 1.0;

    // --- evaluation, checkpoints, stopping
    [Option("Evaluate every N optimizer steps", Min = 0, RangeNote = "0 = at the end of each epoch", MayChangeOnResume = true)]
    public int EvalEvery { get; init; }

    [Option("Log the training loss every N steps", Min = 1, MayChangeOnResume = true)]
    public int LogEvery { get; init; } = 10;

    [Option("Validation metric that picks the best checkpoint and drives early stopping (auto: accuracy or loss by task)",
        Choices = ["auto", "loss", "accuracy", "f1", "perplexity"])]
    public string MetricForBest { get; init; } = "auto";

    [Option("Stop after this many evaluations without improvement", Min = 0, RangeNote = "0 = never stop early")]
    public int EarlyStoppingPatience { get; init; }

    [Option("Smallest change of metric_for_best that counts as an improvement", Min = 0)]
    public double EarlyStoppingThreshold { get; init; }

    [Option("Checkpoint every N optimizer steps", Min = 0, RangeNote = "0 = at every evaluation", MayChangeOnResume = true)]
    public int SaveEvery { get; init; }

    [Option("Checkpoints kept besides the best", Min = 0, MayChangeOnResume = true)]
    public int KeepLast { get; init; } = 2;

    // --- forgetting and earlier rounds
    [Option("Measure, at every evaluation, how far the model drifted from the original on general text, adapter disabled against enabled " +
        "(language models: per-token cross-entropy; encoders and classifiers: embedding agreement)", Choices = ["eval", "off"])]
    public string Forgetting { get; init; } = "eval";

    [Option("forgetting: the general text, a data file with a text field (default: the bundled English sample, data/general-english)", IsPath = true)]
    public string? ForgettingData { get; init; }

    [Option("forgetting: how many texts of forgetting_data to use (the first N)", Min = 2)]
    public int ForgettingSamples { get; init; } = 64;

    [Option("forgetting: truncate each general text to this many tokens (and to the model's position limit)", Min = 2)]
    public int ForgettingMaxLength { get; init; } = 128;

    [Option("Validation sets of earlier rounds to check after training for what the model kept (metric before and after, right→wrong " +
        "and wrong→right per example); the sets recorded in from_adapter are added by themselves", IsPath = true, NoEmptyItems = true)]
    public IReadOnlyList<string>? RetainData { get; init; }

    // --- run
    [Option("Seed for data order, initialisation and dropout")]
    public long Seed { get; init; } = 42;

    [Option("Run folder for checkpoints, adapter, metrics.jsonl, loss.png, report.md (default: runs/<name>-<time>)", IsPath = true, ShortFlags = ["--out", "-o"], MayChangeOnResume = true)]
    public string Output { get; init; } = "";

    [Option("What adapter_config.json and the model card record as the base model (default: model as given); set its Hub id (org/name) before sharing the adapter", MayChangeOnResume = true)]
    public string? BaseModelNameOrPath { get; init; }

    [Option("Hold the frozen base's linear layers in 4 bits, as bitsandbytes (QLoRA): nf4 (NormalFloat) or fp4; the output head, " +
        "embeddings and norms stay in full precision", Choices = ["none", "nf4", "fp4"])]
    public string Quantize { get; init; } = "none";

    [Option("With quantize: also quantize the 4-bit blocks' scales to 8 bits (QLoRA's double quantization, about 0.4 bits a weight less)")]
    public bool DoubleQuant { get; init; }

    [Option("With quantize: the dtype of the 4-bit layers' matmuls (bitsandbytes' compute dtype); bfloat16 is faster on CPUs with native bf16",
        Choices = ["float32", "bfloat16", "float16"], MayChangeOnResume = true)]
    public string ComputeDtype { get; init; } = "float32";

    [Option("Training precision: bf16 holds and computes the model in bfloat16 with float32 master weights in the optimizer " +
        "(adapters are saved in float32); auto picks bf16 where the CPU has native bfloat16 (avx512_bf16, AMX), else fp32; fp16 adds dynamic loss scaling (for GPUs: CPUs emulate float16)",
        Choices = ["auto", "fp32", "bf16", "fp16"])]
    public string Precision { get; init; } = "fp32";

    [Option("Device: cpu, cuda or cuda:N (cuda needs a CUDA TorchSharp package)", MayChangeOnResume = true)]
    public string Device { get; init; } = "cpu";

    [Option("Continue from the newest checkpoint in the output folder", MayChangeOnResume = true)]
    public bool Resume { get; init; }

    [Option("Recompute decoder layers in backward instead of keeping their activations: less memory, about 30% more time", MayChangeOnResume = true)]
    public bool GradientCheckpointing { get; init; }

    [Option("Return large freed tensors to the system at once (glibc): lower peak memory, somewhat slower steps", MayChangeOnResume = true)]
    public bool LowMemory { get; init; }

    [Option("CPU threads for libtorch", Min = 0, RangeNote = "0 = all cores", MayChangeOnResume = true)]
    public int Threads { get; init; }

    [Option("Also train the frozen-model baseline and full fine-tuning, for the report", MayChangeOnResume = true)]
    public bool Baselines { get; init; }

    [Option("Also train only the head on the frozen model (classification): the baseline an adapter must beat", MayChangeOnResume = true)]
    public bool FrozenBaseline { get; init; }

    /// <summary>Values given for the chosen method's own options (by key; see the method's description for what exists).</summary>
    public OptionValues MethodOptions { get; init; } = OptionValues.Empty;
}
