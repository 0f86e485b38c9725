using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// The analysis a training run acts on (target_modules auto, layer_groups auto): the file the options name, checked
/// against the model, or an analysis of the run's own training split by the one estimator it needs, made on a fresh copy
/// of the model (the analysis fits heads and wraps its model, so it never touches the one that trains).
/// </summary>
public static class RunAnalysis
{
    /// <summary>The scores and where they came from ("from PATH", "analysing N training examples").</summary>
    public static (AnalysisResult Analysis, string Source) For(TrainingOptions o, PretrainedModel model, TrainingData data, Collator collator, Device device,
        string purpose, Action<string> log)
    {
        if (o.Analysis is { } path)
        {
            var analysis = AnalysisResult.Read(path);
            var names = ModuleTree.NamedModules(model).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
            if (analysis.Modules.FirstOrDefault(m => !names.Contains(m.Candidate.Module)) is { } missing)
                throw new PeftException($"{path}: module \"{missing.Candidate.Name}\" is not in {o.Model}: the analysis was made for another model");
            if (!analysis.Estimators.Contains(o.TargetEstimator))
                throw new PeftException($"{path}: the analysis has no {o.TargetEstimator} scores (it has {string.Join(", ", analysis.Estimators)}): set target_estimator or analyse again");
            return (analysis, $"from {path}");
        }
        log($"{purpose}: analysing {o.TrainData} with {o.TargetEstimator} first");
        using var copy = data.Task.Kind == TaskKind.SequenceClassification
            ? AutoModel.ForSequenceClassification(o.Model, data.Labels!.Count, o.Pooling, device)
            : AutoModel.FromPretrained(o.Model, device);
        var made = ModuleAnalysis.Run(copy, data.Task.Kind, data.Train, collator, new AnalysisSettings { Estimators = [o.TargetEstimator] },
            o.Seed, device, o.Model, o.TrainData, o.Task);
        return (made, $"analysing {made.Samples} training examples");
    }
}
