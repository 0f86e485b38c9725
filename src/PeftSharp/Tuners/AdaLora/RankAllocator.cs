using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.AdaLora;

/// <summary>One module's SVD triplets as the allocator sees them: P = B diag(E) A, with rank k the triplet (A[k,:], E[k], B[:,k]).</summary>
public sealed record AdaLoraTriplets(string Module, Parameter A, Parameter B, Parameter E)
{
    /// <summary>The names the parameters have in the model (module.lora_X.adapter), which key the allocator's averages.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> Named(string adapter) =>
        [($"{Module}.lora_A.{adapter}", A), ($"{Module}.lora_B.{adapter}", B), ($"{Module}.lora_E.{adapter}", E)];
}

/// <summary>What one mask_to_budget did: k, the threshold, every module's per-rank score S_k and the ranks it kept.</summary>
public sealed record BudgetMask(int Budget, int K, double Threshold, IReadOnlyDictionary<string, float[]> Scores, IReadOnlyDictionary<string, bool[]> Kept);

/// <summary>
/// PEFT 0.18's RankAllocator (AdaLoRA, Zhang et al. 2023, https://openreview.net/pdf?id=lq62uWRJjiY), float32 op for
/// op as PEFT computes it, so the same masks come out: the sensitivity I = |p * grad| of every A, B, E entry, its
/// exponential average (beta1) and the average of its deviation from that (the uncertainty, beta2); a triplet's
/// score is E's element score plus the row mean of A's and the column mean of B's (element score = average times
/// uncertainty); the budget falls from init_r to target_r per module along a cubic schedule, and every triplet whose
/// score is at or below the (init budget - budget)-th smallest has its singular value E zeroed.
/// </summary>
public sealed class RankAllocator
{
    private readonly AdaLoraConfig _config;
    private readonly string _adapter;
    private readonly Dictionary<string, Tensor> _avgIpt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> _avgUnc = new(StringComparer.Ordinal);

    public RankAllocator(AdaLoraConfig config, string adapter, IReadOnlyList<AdaLoraTriplets> modules)
    {
        if (!(config.Beta1 > 0 && config.Beta1 < 1) || !(config.Beta2 > 0 && config.Beta2 < 1))
            throw new PeftException($"AdaLoRA: beta1 and beta2 must be between 0 and 1 (exclusive), got {config.Beta1} and {config.Beta2}");
        _config = config;
        _adapter = adapter;
        Modules = modules;
        InitBudget = modules.Sum(m => (int)m.A.shape[0]);
        TargetBudget = config.TargetR * modules.Count;
    }

    /// <summary>In the model's named_parameters order, which is the order PEFT scores and masks in.</summary>
    public IReadOnlyList<AdaLoraTriplets> Modules { get; }
    public int InitBudget { get; }
    public int TargetBudget { get; }

    /// <summary>The exponential averages of sensitivity and uncertainty, by parameter name; empty before the first update and after the final allocation.</summary>
    public IReadOnlyDictionary<string, Tensor> AverageSensitivity => _avgIpt;
    public IReadOnlyDictionary<string, Tensor> AverageUncertainty => _avgUnc;

    /// <summary>PEFT's budget_schedule: the budget at a step and whether to mask then.</summary>
    public (int Budget, bool Mask) BudgetSchedule(int step)
    {
        int tinit = _config.Tinit, tfinal = _config.Tfinal, total = TotalStep;
        if (step <= tinit) return (InitBudget, false);
        if (step > total - tfinal) return (TargetBudget, true);
        double mul = 1 - (double)(step - tinit) / (total - tfinal - tinit);
        int budget = (int)((InitBudget - TargetBudget) * Math.Pow(mul, 3) + TargetBudget);
        return (budget, step % _config.DeltaT == 0);
    }

    private int TotalStep => _config.TotalStep ?? throw new InvalidOperationException("AdaLoRA's total_step is set when training begins");

    /// <summary>
    /// PEFT's update_ipt, with the values after the optimizer step and this step's gradients (none counts as zero):
    /// avg = beta1 avg + (1 - beta1) I, unc = beta2 unc + (1 - beta2) |I - avg|. Each product and sum is one float32
    /// tensor op with the factor as a float32 value, as ATen applies PEFT's Python scalars.
    /// </summary>
    public void UpdateSensitivity()
    {
        double b1 = _config.Beta1, b2 = _config.Beta2;
        using var _ = no_grad();
        foreach (var module in Modules)
            foreach (var (name, p) in module.Named(_adapter))
            {
                using var scope = NewDisposeScope();
                var ipt = p.grad is { } g ? p.detach().mul(g).abs() : zeros_like(p);
                var oldIpt = _avgIpt.GetValueOrDefault(name) ?? zeros_like(p);
                var oldUnc = _avgUnc.GetValueOrDefault(name) ?? zeros_like(p);
                var avg = oldIpt.mul(b1).add(ipt.mul(1 - b1));
                var unc = oldUnc.mul(b2).add(ipt.sub(avg).abs().mul(1 - b2));
                Keep(_avgIpt, name, avg);
                Keep(_avgUnc, name, unc);
            }
    }

    /// <summary>
    /// PEFT's mask_to_budget: scores every triplet, takes the (init budget - budget)-th smallest score as the threshold
    /// and zeroes E where the score is at or below it. Returns what it did; its Kept is the rank pattern.
    /// </summary>
    public BudgetMask MaskToBudget(int budget)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var scores = Modules.Select(Score).ToList();
        int k = InitBudget - budget;
        // PEFT's kthvalue needs k >= 1; a budget that cuts nothing masks nothing (PEFT would stop with an error).
        double threshold = k >= 1 ? cat(scores, 0).kthvalue(k, 0).values.item<float>() : double.NegativeInfinity;
        var kept = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        var byModule = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < Modules.Count; i++)
        {
            var m = Modules[i];
            var masked = scores[i].le(threshold);
            m.E.masked_fill_(masked.view(-1, 1), 0.0);
            kept[m.Module] = masked.logical_not().data<bool>().ToArray();
            byModule[m.Module] = scores[i].data<float>().ToArray();
        }
        return new BudgetMask(budget, k, threshold, byModule, kept);
    }

    /// <summary>S_k = s_E[k] + (mean_j s_A[k, j] + mean_i s_B[i, k]), with s = average sensitivity times uncertainty.</summary>
    private Tensor Score(AdaLoraTriplets m)
    {
        Tensor Element(Parameter p, string kind)
        {
            var name = $"{m.Module}.{kind}.{_adapter}";
            return _avgIpt.TryGetValue(name, out var avg) ? avg.mul(_avgUnc[name])
                : throw new InvalidOperationException($"AdaLoRA: no sensitivity for {name} yet (mask_to_budget before any update)");
        }
        var a = Element(m.A, "lora_A").mean([1], keepdim: true);
        var b = Element(m.B, "lora_B").mean([0], keepdim: false).view(-1, 1);
        var e = Element(m.E, "lora_E");
        return e.view(-1).add(cat([a, b], 1).sum(1));
    }

    /// <summary>PEFT's mask_using_rank_pattern: zero every E entry the pattern (module -> kept ranks) marks false.</summary>
    public void MaskUsingRankPattern(IReadOnlyDictionary<string, bool[]> pattern)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var m in Modules)
        {
            if (!pattern.TryGetValue(m.Module + ".lora_E", out var keep)) continue;
            if (keep.Length != m.E.shape[0])
                throw new PeftException($"AdaLoRA rank_pattern of {m.Module} has {keep.Length} entries but the module has rank {m.E.shape[0]}");
            m.E.masked_fill_(tensor(keep).logical_not().view(-1, 1).to(m.E.device), 0.0);
        }
    }

    /// <summary>PEFT's reset_ipt, after the final allocation: the averages are no longer needed.</summary>
    public void Reset()
    {
        foreach (var t in _avgIpt.Values.Concat(_avgUnc.Values)) t.Dispose();
        _avgIpt.Clear();
        _avgUnc.Clear();
    }

    /// <summary>Puts back averages a checkpoint kept (an empty set: none yet, or already reset).</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> sensitivity, IReadOnlyDictionary<string, Tensor> uncertainty)
    {
        Reset();
        var names = Modules.SelectMany(m => m.Named(_adapter)).ToDictionary(n => n.Name, n => n.Parameter, StringComparer.Ordinal);
        foreach (var (target, source) in new[] { (_avgIpt, sensitivity), (_avgUnc, uncertainty) })
            foreach (var (name, t) in source)
            {
                if (!names.TryGetValue(name, out var p) || !t.shape.SequenceEqual(p.shape))
                    throw new PeftException($"AdaLoRA checkpoint state: {name} does not fit the adapter");
                using var scope = NewDisposeScope();
                Keep(target, name, t.to(p.dtype, p.device).clone());
            }
    }

    /// <summary>Stores a tensor that outlives the step's dispose scope, freeing the one it replaces.</summary>
    private static void Keep(Dictionary<string, Tensor> store, string name, Tensor value)
    {
        if (store.Remove(name, out var old)) old.Dispose();
        store[name] = value.DetachFromDisposeScope();
    }
}
