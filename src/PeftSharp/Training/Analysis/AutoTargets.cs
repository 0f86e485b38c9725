using System.Globalization;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// <c>target_modules: auto</c>: modules and ranks chosen by importance within a parameter budget. Each linear module m
/// with score s_m (from <c>peft analyze</c>, or an analysis of the training data run first) gets the rank r_m that
/// maximises <c>Σ s_m · ln(1 + r_m)</c> subject to <c>Σ cost_m(r_m) ≤ budget</c>: importance counts with diminishing
/// returns in rank, so the most important modules get more rank but the budget is not all spent on one. Solved
/// greedily, one rank at a time to the module with the largest gain per parameter (exact for this separable concave
/// objective with linear costs, up to the last increment). Ranks stay within min(in, out) and 4x the run's rank.
/// </summary>
public static class AutoTargets
{
    public const string Auto = "auto";

    public static bool IsAuto(IReadOnlyList<string>? targets) => targets is [Auto];

    /// <summary>"73728" or "0.3%" (of <paramref name="modelParameters"/>).</summary>
    public static long ParseBudget(string? text, long modelParameters)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw new PeftException("target_modules auto needs trainable_budget: the adapter parameters to spend, a count (73728) or a percentage of the model's (0.3%)");
        var t = text.Trim().Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
        if (t.EndsWith('%') && double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double percent) && percent > 0 && percent <= 100)
            return (long)Math.Floor(percent / 100 * modelParameters);
        if (long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long count) && count > 0) return count;
        throw new PeftException($"trainable_budget \"{text}\" is not a positive parameter count or a percentage in (0, 100]");
    }

    /// <summary>The plan for one estimator's scores; <paramref name="cost"/> is the method's parameters for a module at a rank.</summary>
    public static AutoTargetPlan Plan(AnalysisResult analysis, string estimator, long budget, int baseRank, double baseAlpha, Func<ModuleCandidate, int, long> cost, string source)
    {
        if (!analysis.Estimators.Contains(estimator))
            throw new PeftException($"the analysis has no {estimator} scores (it has {string.Join(", ", analysis.Estimators)}): set target_estimator or analyse again");
        var modules = analysis.Ranked(estimator).Where(m => m.Candidate.Kind == CandidateKind.Linear && m.Scores[estimator].Score > 0).ToList();
        if (modules.Count == 0) throw new PeftException($"the analysis scored no linear module above zero with {estimator}");
        var ranks = new int[modules.Count];
        long left = budget;
        while (true)
        {
            int best = -1;
            double bestGain = 0;
            long bestCost = 0;
            for (int i = 0; i < modules.Count; i++)
            {
                var c = modules[i].Candidate;
                if (ranks[i] >= Math.Min(Math.Min(c.InFeatures, c.OutFeatures), 4L * baseRank)) continue;
                long step = cost(c, ranks[i] + 1) - (ranks[i] == 0 ? 0 : cost(c, ranks[i]));
                if (step > left || step <= 0) continue;
                double gain = modules[i].Scores[estimator].Score * (Math.Log(2 + ranks[i]) - Math.Log(1 + ranks[i])) / step;
                if (gain > bestGain) (best, bestGain, bestCost) = (i, gain, step);
            }
            if (best < 0) break;
            ranks[best]++;
            left -= bestCost;
        }
        var chosen = modules.Select((m, i) => (m, i)).Where(x => ranks[x.i] > 0)
            .Select(x => new ChosenModule(x.m.Candidate.Module, ranks[x.i], cost(x.m.Candidate, ranks[x.i]), x.m.Scores[estimator].Score, x.m.Scores[estimator].Share)).ToList();
        if (chosen.Count == 0) throw new PeftException($"trainable_budget {NumberText.Count(budget)} is too small for rank 1 on any module (the cheapest costs {NumberText.Count(modules.Min(m => cost(m.Candidate, 1)))})");
        return new AutoTargetPlan(estimator, budget, baseRank, baseAlpha, chosen, source);
    }

    /// <summary>
    /// The plan of a training run: read back from the run folder on a resume; else chosen from the run's analysis
    /// (<see cref="RunAnalysis"/>: the file the options name, or one made of the training split first).
    /// </summary>
    public static AutoTargetPlan ForRun(TrainingOptions o, PretrainedModel model, TrainingData data, Collator collator, Device device, Action<string> log)
    {
        var saved = Path.Combine(o.Output, AutoTargetPlan.FileName);
        if (o.Resume && File.Exists(saved)) return AutoTargetPlan.Read(saved);
        var tuner = TunerRegistry.Named(o.Method) ?? throw new PeftException($"target_modules auto: method \"{o.Method}\" is not an adapter method");
        var settings = TrainingMethods.Settings(o, null);
        if (tuner.AdapterParameters(settings, 1, 1, 1) is null)
            throw new PeftException($"target_modules auto spends a budget as per-module ranks, which method {o.Method} has not (use lora, dora or loha)");
        long budget = ParseBudget(o.TrainableBudget, model.parameters().Sum(p => p.numel()));
        var (analysis, source) = RunAnalysis.For(o, model, data, collator, device, "target_modules auto", log);
        var plan = Plan(analysis, o.TargetEstimator, budget, o.Rank, o.Alpha,
            (c, r) => tuner.AdapterParameters(settings, c.InFeatures, c.OutFeatures, r) ?? 0, source);
        log($"target_modules auto: {plan.Describe()}");
        return plan;
    }
}
