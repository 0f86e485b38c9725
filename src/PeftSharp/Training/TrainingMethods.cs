using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Options;
using PeftSharp.Training.Analysis;
using PeftSharp.Tuners;

namespace PeftSharp.Training;

/// <summary>
/// What <c>method</c> may name: every method the registry can train, plus the two baselines that are not adapters
/// (<c>full</c> fine-tunes every parameter, <c>head</c> only the task head on the frozen model). Builds the model to
/// train from the options through the method's own description, so no method is named here.
/// </summary>
public sealed class TrainingMethods : IChoices
{
    public const string Full = "full";
    public const string Head = "head";

    public IReadOnlyList<string> Values => [.. TunerRegistry.TrainableNames, Full, Head];

    public static bool IsBaseline(string method) => method is Full or Head;

    /// <summary>PEFT's task_type for a task.</summary>
    public static string TaskType(TaskKind kind) => kind switch
    {
        TaskKind.SequenceClassification => "SEQ_CLS",
        TaskKind.Seq2SeqLm => "SEQ_2_SEQ_LM",
        _ => "CAUSAL_LM",
    };

    /// <summary>What the method's tuner sees of the options.</summary>
    public static MethodSettings Settings(TrainingOptions o, string? taskType, Func<string, IReadOnlyList<int>>? tokenize = null) => new()
    {
        Rank = o.Rank,
        Alpha = o.Alpha,
        Dropout = o.Dropout,
        Targets = Targets(o.TargetModules),
        ModulesToSave = o.ModulesToSave,
        Seed = o.Seed,
        TaskType = taskType,
        BaseModel = o.BaseModelNameOrPath ?? o.Model,
        Options = o.MethodOptions,
        Tokenize = tokenize,
    };

    /// <summary>target_modules as given: one entry that is all-linear or looks like a regex is a regex; otherwise name suffixes.</summary>
    public static TargetSpec Targets(IReadOnlyList<string>? modules) => modules switch
    {
        null => new TargetSpec(),
        [var single] when single == TargetSpec.AllLinear || single.IndexOfAny(['*', '(', '[', '\\', '^', '$', '|']) >= 0 => new TargetSpec { TargetRegex = single },
        var list => new TargetSpec { TargetList = list },
    };

    /// <summary>The method line of the run report: "LoRA r=8, alpha=16, dropout 0.05; targets query, value; also training classifier".</summary>
    public static string Describe(TrainingOptions o)
    {
        if (o.Method == Full) return "full fine-tuning";
        if (o.Method == Head) return "head";
        if (TunerRegistry.Named(o.Method) is not { } tuner) return o.Method;
        var parts = new List<string> { tuner.Describe(Settings(o, null)) };
        if (tuner.Description.Uses.HasFlag(SharedInputs.Targets))
            parts.Add("targets " + (o.TargetModules is { Count: > 0 } t ? string.Join(", ", t) : "the architecture's default"));
        if (o.ModulesToSave is { Count: > 0 } save) parts.Add("also training " + string.Join(", ", save));
        if (o.FromAdapter != null) parts.Add($"continued from {o.FromAdapter}");
        return string.Join("; ", parts);
    }

    /// <summary>The method's name as a title ("LoRA", "DoRA", "full fine-tuning").</summary>
    public static string Title(TrainingOptions o) => TunerRegistry.Named(o.Method) is { } tuner ? tuner.Title(Settings(o, null)) : Describe(o);

    /// <summary>
    /// Makes the model trainable as the method says: a new adapter (or the one given by from_adapter, continued), or for a
    /// baseline the right parameters unfrozen (null is returned: there is no adapter).
    /// </summary>
    /// <param name="tokenize">The model's tokenizer, for methods that start from a text (see <see cref="MethodSettings.Tokenize"/>).</param>
    /// <param name="plan">What target_modules auto resolved to (<see cref="AutoTargets.ForRun"/>): the targets and rank_pattern to use.</param>
    /// <param name="groups">What layer_groups auto resolved to (<see cref="AutoLayerGroups.ForRun"/>).</param>
    public static PeftModel? Adapt(PretrainedModel model, TrainingOptions o, TaskKind kind, Action<string> log, Func<string, IReadOnlyList<int>>? tokenize = null,
        AutoTargetPlan? plan = null, LayerGroups? groups = null)
    {
        if (IsBaseline(o.Method))
        {
            var head = model.OutputHeadName + ".";
            foreach (var (name, p) in model.named_parameters())
                p.requires_grad = o.Method == Full || name.StartsWith(head, StringComparison.Ordinal);
            return null;
        }
        var tuner = TunerRegistry.Named(o.Method) is { Description.Trains: true } t ? t
            : throw new PeftException($"method \"{o.Method}\" is not available for training ({string.Join(", ", new TrainingMethods().Values)})");
        if (o.FromAdapter != null)
        {
            log($"continuing adapter {o.FromAdapter}");
            var loaded = PeftModel.Load(model, o.FromAdapter, trainable: true);
            foreach (var w in loaded.Warnings) log(w);
            return loaded;
        }
        var settings = Settings(o, TaskType(kind), tokenize);
        if (plan != null) settings = settings with { Targets = plan.Targets, Patterns = plan.Patterns };
        else if (AutoTargets.IsAuto(o.TargetModules)) throw new PeftException("target_modules auto is resolved by a training run (TrainingRun), not here");
        if ((groups ?? LayerGroups.Parse(o.LayerGroups)) is { } layerGroups)
        {
            if (LayerGroups.Problems(o).FirstOrDefault() is { } problem) throw new PeftException(problem);
            return layerGroups.Adapt(model, tuner, settings);
        }
        return PeftModel.Create(model, tuner.CreateConfig(settings));
    }
}
