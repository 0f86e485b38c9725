using static TorchSharp.torch;

namespace PeftSharp.Tuners.AdaLora;

/// <summary>
/// AdaLoRA's training work, as PEFT's AdaLoraModel does it around a step: the orthogonal regulariser added to the loss
/// (forward), and update_and_allocate after each optimizer step. Steps before total_step - tfinal update the
/// sensitivities and, when the schedule says so, mask to the budget (the rank pattern so far goes into the config);
/// step total_step - tfinal masks to the target budget with the last averages, fixes the rank pattern and drops the
/// averages; later steps only zero the singular values the pattern drops (they still receive gradients and updates,
/// as in PEFT). Checkpoint state: the averages and the rank pattern.
/// </summary>
public sealed class AdaLoraTraining : IAdapterTraining
{
    private const string SensitivityPrefix = "exp_avg_ipt/";
    private const string UncertaintyPrefix = "exp_avg_unc/";
    private const string PatternPrefix = "rank_pattern/";

    private readonly AdaLoraConfig _config;

    public AdaLoraTraining(PeftModel peft, string adapter, AdaLoraConfig config)
    {
        _config = config;
        var modules = peft.Layers.Where(l => l.Layer is AdaLoraLayer && l.Layer.AdapterNames.Contains(adapter))
            .Select(l => ((AdaLoraLayer)l.Layer).Triplets(l.Path, adapter)).ToList();
        if (modules.Count == 0) throw new PeftException($"adapter \"{adapter}\" has no AdaLoRA layer to allocate ranks in");
        Allocator = new RankAllocator(config, adapter, modules);
    }

    public RankAllocator Allocator { get; }

    /// <summary>What the last <see cref="AfterOptimizerStep"/> did: the budget step and, when it masked to a budget, how.</summary>
    public (int Step, int Budget, bool Mask, BudgetMask? Masked)? Last { get; private set; }

    public void Begin(int totalSteps)
    {
        _config.TotalStep ??= totalSteps;
        int total = _config.TotalStep.Value;
        if (total <= 0) throw new PeftException($"AdaLoRA: total_step must be positive, got {total}");
        if (_config.Tinit >= total - _config.Tfinal)
            throw new PeftException($"AdaLoRA: tinit ({_config.Tinit}) must be below total_step - tfinal ({total} - {_config.Tfinal}), or no step reallocates ranks; lower tinit/tfinal or train longer");
        if (_config.DeltaT < 1) throw new PeftException($"AdaLoRA: deltaT must be at least 1, got {_config.DeltaT}");
        if (_config.OrthRegWeight < 0) throw new PeftException($"AdaLoRA: orth_reg_weight must not be negative, got {_config.OrthRegWeight}");
    }

    /// <summary>
    /// orth_reg_weight * R, R = the mean over every A and B of ||A A^T - I||_F and ||B^T B - I||_F (Frobenius norm, not
    /// squared), summed in the model's order as PEFT's forward does; null when the weight is 0.
    /// </summary>
    public Tensor? ExtraLoss()
    {
        if (_config.OrthRegWeight == 0) return null;
        Tensor? sum = null;
        int count = 0;
        foreach (var m in Allocator.Modules)
            foreach (var cov in new[] { m.A.matmul(m.A.t()), m.B.t().matmul(m.B) })
            {
                var norm = linalg.vector_norm(cov.sub(eye(cov.shape[0], cov.shape[1], dtype: cov.dtype, device: cov.device)));
                sum = sum is null ? norm : sum.add(norm);
                count++;
            }
        return sum!.div(count).mul(_config.OrthRegWeight);
    }

    public void AfterOptimizerStep(int step)
    {
        int final = _config.TotalStep!.Value - _config.Tfinal;
        if (step < final)
        {
            Allocator.UpdateSensitivity();
            var (budget, mask) = Allocator.BudgetSchedule(step);
            BudgetMask? masked = mask ? Allocator.MaskToBudget(budget) : null;
            if (masked != null) _config.RankPattern = Pattern(masked);
            Last = (step, budget, mask, masked);
        }
        else if (step == final)
        {
            var (budget, mask) = Allocator.BudgetSchedule(step);
            var masked = Allocator.MaskToBudget(budget);
            _config.RankPattern = Pattern(masked);
            Allocator.Reset();
            Last = (step, budget, mask, masked);
        }
        else
        {
            Allocator.MaskUsingRankPattern(_config.RankPattern);
            var (budget, mask) = Allocator.BudgetSchedule(step);
            Last = (step, budget, mask, null);
        }
    }

    /// <summary>The config's rank_pattern keys: module name + ".lora_E" (PEFT's saved form, without the adapter name).</summary>
    private static Dictionary<string, bool[]> Pattern(BudgetMask masked) =>
        masked.Kept.ToDictionary(kv => kv.Key + ".lora_E", kv => kv.Value, StringComparer.Ordinal);

    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        foreach (var (name, t) in Allocator.AverageSensitivity) yield return new(SensitivityPrefix + name, t);
        foreach (var (name, t) in Allocator.AverageUncertainty) yield return new(UncertaintyPrefix + name, t);
        // As 0/1 float32: a checkpoint file holds tensors only, and these read back in any safetensors tool.
        foreach (var (name, keep) in _config.RankPattern)
            yield return new(PatternPrefix + name, tensor(keep.Select(k => k ? 1f : 0f).ToArray()));
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        Dictionary<string, Tensor> With(string prefix) => state.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);
        Allocator.Load(With(SensitivityPrefix), With(UncertaintyPrefix));
        _config.RankPattern = With(PatternPrefix).ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).cpu().data<float>().Select(x => x != 0).ToArray(), StringComparer.Ordinal);
    }
}
