using PeftSharp.Options;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// How <c>peft analyze</c> measures, each an option declared once (the command's flags and the README come from here). The
/// data, model and task come from the training options (<see cref="TrainingOptions"/>), read the same way as for training.
/// </summary>
public sealed record AnalysisSettings
{
    [Option("Estimators to run, comma-separated: sensitivity, fisher, lora-drop, kappa (the first ranks the table)", NoEmptyItems = true)]
    public IReadOnlyList<string> Estimators { get; init; } = [ImportanceEstimator.Sensitivity, ImportanceEstimator.Fisher, ImportanceEstimator.LoraDrop, ImportanceEstimator.Kappa];

    [Option("Training examples the data estimators look at (a seeded sample of the training split)", Min = 1)]
    public int Samples { get; init; } = 256;

    [Option("Examples per batch of the gradient pass and the warm-ups", Min = 1)]
    public int AnalysisBatchSize { get; init; } = 16;

    [Option("Steps that fit a new task head (a classifier the model initialised randomly) on the frozen model before the gradients are measured, " +
        "so they reflect the task rather than a random head", Min = 0, RangeNote = "0 = off")]
    public int HeadSteps { get; init; } = 100;

    [Option("Learning rate of the head fit (a linear probe takes a larger step than an adapter)", Min = 0, MinExclusive = true)]
    public double HeadLearningRate { get; init; } = 1e-2;

    [Option("lora-drop: learning rate of the LoRA warm-up", Min = 0, MinExclusive = true)]
    public double LoraDropLearningRate { get; init; } = 1e-3;

    [Option("lora-drop: steps of the LoRA warm-up", Min = 1)]
    public int LoraDropSteps { get; init; } = 50;

    [Option("lora-drop: rank of the warm-up LoRA", Min = 1)]
    public int LoraDropRank { get; init; } = 8;

    public static IReadOnlyList<PropertyOption> Schema { get; } = PropertyOption.Of<AnalysisSettings>();

    /// <summary>These settings with flag values applied (flag = the key in kebab-case), every problem reported at once.</summary>
    public AnalysisSettings With(IReadOnlyDictionary<string, string> flags)
    {
        var copy = this with { };
        var errors = new List<string>();
        foreach (var (flag, text) in flags)
        {
            var spec = Schema.FirstOrDefault(s => s.Flag == flag) ?? throw new PeftException($"unknown analysis option --{flag}");
            var value = spec.Convert(OptionConversion.FromFlag(spec, text), $"option --{flag}");
            errors.AddRange(spec.Problems(value));
            spec.SetOnCopy(copy, value);
        }
        foreach (var name in copy.Estimators) if (ImportanceEstimator.All.All(e => e.Name != name))
            errors.Add($"estimator \"{name}\" is not one of {string.Join(", ", ImportanceEstimator.All.Select(e => e.Name))}");
        if (copy.Estimators.Count == 0) errors.Add("estimators: name at least one");
        if (errors.Count > 0) throw new PeftException($"invalid analysis options: {string.Join("; ", errors)}");
        return copy;
    }
}
