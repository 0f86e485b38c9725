using PeftSharp.Options;

namespace PeftSharp.Tuners;

/// <summary>
/// What training hands a method to build a new adapter's config from: the options every method may share, the run's
/// seed and task, and the values of the method's own options. A tuner sees this, never the training options, so
/// tuners do not depend on training.
/// </summary>
public sealed record MethodSettings
{
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 16;
    public double Dropout { get; init; }
    public TargetSpec Targets { get; init; } = new();
    public IReadOnlyList<string>? ModulesToSave { get; init; }
    /// <summary>The run's seed, for methods that draw fixed random tensors from a key (VeRA's projections).</summary>
    public long Seed { get; init; }
    /// <summary>PEFT's task_type ("CAUSAL_LM", "SEQ_CLS", "SEQ_2_SEQ_LM").</summary>
    public string? TaskType { get; init; }
    public string? BaseModel { get; init; }
    /// <summary>
    /// The base model's tokenizer, special tokens included as it adds them to one text (Hugging Face's
    /// <c>tokenizer(text).input_ids</c>), for methods that start from a text (prompt tuning's TEXT init); null when
    /// the caller has none.
    /// </summary>
    public Func<string, IReadOnlyList<int>>? Tokenize { get; init; }
    /// <summary>Per-module ranks and alphas (rank_pattern, alpha_pattern), for methods that take them (automatic targets set them).</summary>
    public RankAlphaPatterns Patterns { get; init; } = RankAlphaPatterns.Empty;
    /// <summary>Values given for the method's own options; read them with <see cref="MethodOption{T}.Get"/>.</summary>
    public OptionValues Options { get; init; } = OptionValues.Empty;

    /// <summary>Applies what every config has (task, base model, modules to save) and returns it.</summary>
    public T Common<T>(T config) where T : PeftConfig
    {
        config.TaskType = TaskType;
        config.BaseModelNameOrPath = BaseModel;
        config.ModulesToSave = ModulesToSave;
        return config;
    }
}
