using static TorchSharp.torch;

namespace PeftSharp.Tuners.Combination;

/// <summary>
/// PEFT's merge_utils: n task tensors τᵢ of one shape and weights wᵢ become one tensor.
/// <list type="bullet">
/// <item>Sum: Σ wᵢτᵢ.</item>
/// <item>Magnitude prune: τᵢ keeps its k = ⌊density·numel⌋ largest |entries| (torch.topk), then Σ wᵢτᵢ.</item>
/// <item>TIES (Yadav et al. 2023): top-k pruning; per entry the elected sign is sign(Σ τᵢ) (total) or sign(Σ sign τᵢ)
/// (frequency), ties going to +; the result is Σ wᵢτᵢ over the i whose sign τᵢ is the elected one, divided by their
/// count (at least 1). As in PEFT the election reads the unweighted τᵢ.</item>
/// <item>DARE (Yu et al. 2024): each entry kept with probability density (<see cref="SeededMask"/>) and the kept ones
/// divided by density, so that the expectation is τᵢ; then the sum, or TIES' election and disjoint mean. PEFT 0.18.1
/// computes the division and drops its result (torch.div without out=), so its DARE is not rescaled; PEFT fixed that
/// later (#3152), and this is the rescaled form.</item>
/// </list>
/// The weights are a float32 tensor and the arithmetic is float32 (float64 for float64 tensors), as in PEFT.
/// </summary>
public static class TaskArithmetic
{
    /// <param name="streamKey">For DARE: the name of task tensor i's random stream (module, matrix, adapter).</param>
    public static Tensor Combine(TaskRule rule, IReadOnlyList<Tensor> tasks, IReadOnlyList<double> weights, double density = 1,
        MajoritySignMethod signMethod = MajoritySignMethod.Total, ulong seed = 0, Func<int, string>? streamKey = null)
    {
        if (tasks.Count == 0 || tasks.Count != weights.Count) throw new ArgumentException("one weight per task tensor, at least one");
        using var scope = NewDisposeScope();
        var dtype = tasks[0].dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var pruned = tasks.Select((t, i) => rule switch
        {
            TaskRule.Sum => t.to(dtype),
            TaskRule.MagnitudePruneSum or TaskRule.Ties => MagnitudePrune(t.to(dtype), density),
            TaskRule.DareSum or TaskRule.DareTies => RandomDrop(t.to(dtype), density, seed, streamKey?.Invoke(i) ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            _ => throw new ArgumentOutOfRangeException(nameof(rule)),
        }).ToList();
        var stacked = stack(pruned, 0);
        var w = tensor(weights.Select(x => (float)x).ToArray()).to(dtype, stacked.device)
            .view([weights.Count, .. Enumerable.Repeat(1L, (int)stacked.dim() - 1)]);
        var weighted = stacked.mul(w);
        if (rule is not (TaskRule.Ties or TaskRule.DareTies)) return weighted.sum(dim: 0).MoveToOuterDisposeScope();
        var sign = stacked.sign();
        var agree = sign.eq(ElectedSign(stacked, sign, signMethod));
        return DisjointMean(weighted, agree).MoveToOuterDisposeScope();
    }

    /// <summary>τ with all but its k = ⌊density·numel⌋ largest-magnitude entries zeroed; unchanged at density ≥ 1 (PEFT's prune).</summary>
    public static Tensor MagnitudePrune(Tensor t, double density)
    {
        if (density >= 1) return t;
        long k = (long)(density * t.numel());
        var flat = t.reshape(-1);
        var mask = zeros_like(flat);
        if (k > 0) mask.index_fill_(0, flat.abs().topk((int)k, largest: true).indexes, 1);
        return t.mul(mask.reshape(t.shape));
    }

    /// <summary>DARE's drop: entries kept with probability density, divided by density; unchanged at density ≥ 1.</summary>
    public static Tensor RandomDrop(Tensor t, double density, ulong seed, string key) =>
        density >= 1 ? t : t.mul(SeededMask.Bernoulli(t, density, seed, key)).div(density);

    /// <summary>+1 or -1 per entry: the sign of Σ τᵢ (total) or of Σ sign τᵢ (frequency), 0 counting as +.</summary>
    private static Tensor ElectedSign(Tensor stacked, Tensor sign, MajoritySignMethod method)
    {
        var magnitude = method == MajoritySignMethod.Total ? stacked.sum(dim: 0) : sign.sum(dim: 0);
        return where(magnitude.ge(0), ones_like(magnitude), ones_like(magnitude).neg());
    }

    /// <summary>Σᵢ agreeᵢ·wᵢτᵢ / max(1, Σᵢ agreeᵢ).</summary>
    private static Tensor DisjointMean(Tensor weighted, Tensor agree)
    {
        var mask = agree.to(weighted.dtype);
        return weighted.mul(mask).sum(dim: 0).div(mask.sum(dim: 0).clamp_min(1.0));
    }
}
