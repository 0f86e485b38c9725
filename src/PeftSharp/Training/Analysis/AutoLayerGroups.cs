using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// <c>layer_groups: auto</c>: SPAFIT's three groups (Arora and Wang 2024: frozen, bias-only, adapter), placed by measured
/// importance instead of by depth. A layer's score is the sum of its candidates' scores (linear weights, norms, biases)
/// under the run's estimator; the layers ranked by it, the top third (rounded up) carries the method and its biases, the
/// next third trains biases only, and the rest is frozen. Ties go to the deeper layer, as SPAFIT puts adapters on top.
/// Layers the estimator did not score at all (the task loss does not reach them) are frozen, and so is the middle third
/// of a model whose layers have no biases (Llama): there is nothing for a bias group to train.
/// </summary>
public static class AutoLayerGroups
{
    /// <summary>The groups for <paramref name="layerCount"/> layers from one estimator's scores.</summary>
    /// <param name="biases">Whether the model's layers have bias terms; without them no layer is put in a bias group.</param>
    public static LayerGroupPlan Plan(AnalysisResult analysis, string estimator, int layerCount, string source, bool biases = true)
    {
        if (!analysis.Estimators.Contains(estimator))
            throw new PeftException($"the analysis has no {estimator} scores (it has {string.Join(", ", analysis.Estimators)}): set target_estimator or analyse again");
        var scores = new double[layerCount];
        foreach (var m in analysis.Modules)
            if (m.Candidate.LayerIndex is int i && i < layerCount && m.Scores.TryGetValue(estimator, out var s))
                scores[i] += s.Score;
        double total = scores.Sum();
        if (!(total > 0)) throw new PeftException($"layer_groups auto: the analysis scored no layer above zero with {estimator}");
        var ranked = Enumerable.Range(0, layerCount).OrderByDescending(i => scores[i]).ThenByDescending(i => i).ToList();
        int adapters = (layerCount + 2) / 3;
        int biasLayers = biases ? Math.Min(layerCount - adapters, (layerCount + 2) / 3) : 0;
        var kinds = new LayerGroupKind[layerCount];
        for (int r = 0; r < layerCount; r++)
        {
            int layer = ranked[r];
            kinds[layer] = scores[layer] <= 0 ? LayerGroupKind.Frozen
                : r < adapters ? LayerGroupKind.Adapter
                : r < adapters + biasLayers ? LayerGroupKind.Bias
                : LayerGroupKind.Frozen;
        }
        var layers = Enumerable.Range(0, layerCount).Select(i => new LayerScore(i, scores[i], scores[i] / total)).ToList();
        return new LayerGroupPlan(estimator, layers, LayerGroups.FromKinds(kinds), source);
    }

    /// <summary>The groups of a training run: read back from the run folder on a resume; else placed by the run's analysis (<see cref="RunAnalysis"/>).</summary>
    public static LayerGroupPlan ForRun(TrainingOptions o, PretrainedModel model, TrainingData data, Collator collator, Device device, Action<string> log)
    {
        var saved = Path.Combine(o.Output, LayerGroupPlan.FileName);
        if (o.Resume && File.Exists(saved)) return LayerGroupPlan.Read(saved);
        int layerCount = LayerGroups.CountLayers(model);
        var (analysis, source) = RunAnalysis.For(o, model, data, collator, device, "layer_groups auto", log);
        bool biases = model.named_parameters().Any(p => p.name.EndsWith(".bias", StringComparison.Ordinal) && TargetSelector.LayerIndex(p.name) != null);
        var plan = Plan(analysis, o.TargetEstimator, layerCount, biases ? source : source + "; no biases in the layers, so no bias group", biases);
        log($"layer_groups auto: {plan.Describe()}");
        return plan;
    }
}
