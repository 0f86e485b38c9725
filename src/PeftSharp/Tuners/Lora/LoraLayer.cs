using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Lora;

/// <summary>
/// A linear layer (nn.Linear or GPT-2's Conv1D) with LoRA adapters beside it:
/// y = base(x) + B(A(dropout(x))) * scaling for each active adapter, or DoRA's magnitude-rescaled form.
/// The original stays whole under base_layer, so unloading gives it back untouched; parameters are
/// named as in PEFT while running (q_proj.base_layer.weight, q_proj.lora_A.default.weight).
/// </summary>
public sealed class LoraLayer : AdapterLayer
{
    private readonly AdapterDict<Linear> lora_A = new();
    private readonly AdapterDict<Linear> lora_B = new();
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> lora_dropout = new();
    private readonly AdapterDict<ParameterHolder> lora_magnitude_vector = new();
    private readonly Dictionary<string, Settings> _settings = new(StringComparer.Ordinal);
    /// <summary>DoRA's merge scales W's rows by magnitude / ||W + delta W||; unmerging divides by the same factor.</summary>
    private readonly Dictionary<string, Tensor> _doraFactors = new(StringComparer.Ordinal);
    /// <summary>
    /// PiSSA/OLoRA's initial A0, B0 per adapter (detached copies, owned here): the base now holds W - s B0 A0, and
    /// saving for the original base needs them (<see cref="LoraResidualConversion"/>).
    /// </summary>
    private readonly Dictionary<string, (Tensor A, Tensor B)> _initial = new(StringComparer.Ordinal);
    private readonly LinearBase _base;

    private sealed record Settings(int Rank, double Alpha, double Scaling, double Dropout, bool Dora);

    public LoraLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(LoraLayer), baseLayer)
    {
        _base = LinearBase.TryCreate(baseLayer) ?? throw new PeftException($"LoRA cannot wrap a {baseLayer.GetType().Name}");
    }

    public LinearBase Base => _base;

    public double ScalingOf(string adapter) => _settings[adapter].Scaling;
    public int RankOf(string adapter) => _settings[adapter].Rank;
    public Linear A(string adapter) => lora_A[adapter];
    public Linear B(string adapter) => lora_B[adapter];

    /// <summary>Overwrites an adapter's A [r, in] and B [out, r] with the given values (cast to its dtype), without autograd.</summary>
    public void SetWeights(string adapter, Tensor a, Tensor b)
    {
        var (ta, tb) = (lora_A[adapter].weight, lora_B[adapter].weight);
        if (!a.shape.SequenceEqual(ta.shape) || !b.shape.SequenceEqual(tb.shape))
            throw new PeftException($"adapter \"{adapter}\": A [{string.Join(", ", a.shape)}] and B [{string.Join(", ", b.shape)}] do not fit "
                + $"[{string.Join(", ", ta.shape)}] and [{string.Join(", ", tb.shape)}]");
        using var _ = no_grad();
        ta.copy_(a);
        tb.copy_(b);
    }

    /// <summary>A0 [r, in] and B0 [out, r] of an adapter whose initialisation rewrote the base (PiSSA, OLoRA), else null.</summary>
    public (Tensor A, Tensor B)? InitialWeights(string adapter) => _initial.TryGetValue(adapter, out var w) ? w : null;

    /// <summary>Adds an adapter with freshly initialised weights (see <see cref="LoraInit"/>).</summary>
    public void AddAdapter(string adapter, int rank, double alpha, LoraConfig config)
    {
        if (_settings.ContainsKey(adapter)) throw new PeftException($"adapter \"{adapter}\" already exists on this layer");
        if (rank <= 0) throw new PeftException($"LoRA rank must be positive, got {rank} (check r and rank_pattern)");
        if (config.UseDora && config.LoraBias) throw new PeftException("DoRA with lora_bias is not supported");
        var device = _base.Device;
        var dtype = _base.DType;
        var a = nn.Linear(_base.InFeatures, rank, hasBias: false, device: device, dtype: dtype);
        var b = nn.Linear(rank, _base.OutFeatures, hasBias: config.LoraBias, device: device, dtype: dtype);
        var scaling = config.Scaling(rank, alpha);
        LoraInit.Apply(config.InitLoraWeights, a, b, _base, rank, scaling);
        if (LoraInit.RewritesBase(config.InitLoraWeights))
            using (NewDisposeScope())
                _initial[adapter] = (a.weight.detach().clone().DetachFromDisposeScope(), b.weight.detach().clone().DetachFromDisposeScope());
        lora_A.Add(adapter, a);
        lora_B.Add(adapter, b);
        lora_dropout.Add(adapter, config.LoraDropout > 0 ? nn.Dropout(config.LoraDropout) : nn.Identity());
        _settings[adapter] = new Settings(rank, alpha, scaling, config.LoraDropout, config.UseDora);
        Added(adapter);
        if (config.UseDora)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var norm = WeightNorm(_base.WeightOutIn(), b.weight.matmul(a.weight), scaling);
            lora_magnitude_vector.Add(adapter, new ParameterHolder(norm.detach().clone().MoveToOuterDisposeScope()));
        }
    }

    /// <summary>
    /// Rewrites the base to the residual of a PiSSA/OLoRA factorisation for a loaded adapter whose saved A, B fit that
    /// residual (they stay as loaded); the factors are remembered as its A0, B0.
    /// </summary>
    public void RewriteBase(string adapter, string init)
    {
        var s = _settings[adapter];
        var initial = LoraInit.RewriteBase(init, _base, s.Rank, s.Scaling);
        ForgetInitial(adapter);
        _initial[adapter] = initial;
    }

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"lora_A.{adapter}.weight", lora_A[adapter].weight);
        yield return ($"lora_B.{adapter}.weight", lora_B[adapter].weight);
        if (lora_B[adapter].bias is { } bias) yield return ($"lora_B.{adapter}.bias", bias);
        if (lora_magnitude_vector.Contains(adapter)) yield return ($"lora_magnitude_vector.{adapter}.weight", lora_magnitude_vector[adapter].Weight);
    }

    protected override Tensor ForwardActive(Tensor x, Tensor? baseOutput, IReadOnlyList<string> adapters)
    {
        var result = baseOutput ?? BaseForward(x);
        foreach (var adapter in adapters)
        {
            var s = _settings[adapter];
            result = !s.Dora && s.Dropout == 0 && lora_B[adapter].bias is null
                ? AddPlain(adapter, x, result, s.Scaling)
                : result.add(Delta(adapter, x, result));
        }
        return result;
    }

    /// <summary>result + s (x A^T) B^T with the second product, scaling and sum in one addmm: the common case, kept fast.</summary>
    private Tensor AddPlain(string adapter, Tensor x, Tensor result, double scaling)
    {
        var a = lora_A[adapter].weight;
        var b = lora_B[adapter].weight;
        var h = x.reshape(-1, x.shape[^1]).matmul(a.t());
        var flat = result.reshape(-1, result.shape[^1]);
        // Without autograd the base output is ours to update in place, which saves writing a second output tensor.
        if (!is_grad_enabled() && flat.is_contiguous()) return flat.addmm_(h, b.t(), beta: 1, alpha: (float)scaling).view(result.shape);
        return addmm(flat, h, b.t(), beta: 1, alpha: (float)scaling).view(result.shape);
    }

    private Tensor Delta(string adapter, Tensor x, Tensor baseResult)
    {
        var s = _settings[adapter];
        var a = lora_A[adapter];
        var b = lora_B[adapter];
        var xd = lora_dropout[adapter].forward(x);
        var lora = b.forward(a.forward(xd));
        if (!s.Dora) return lora.mul(s.Scaling);

        // DoRA: rescale the base output and the LoRA update by magnitude / ||W + s B A|| (the norm is detached, as in PEFT).
        var norm = WeightNorm(_base.WeightOutIn(), b.weight.matmul(a.weight).detach(), s.Scaling).detach();
        var scale = lora_magnitude_vector[adapter].Weight.div(norm);
        var baseNoBias = s.Dropout == 0 || !training
            ? (_base.Bias is { } bias ? baseResult.sub(bias) : baseResult)
            : _base.LinearNoBias(xd);
        return scale.sub(1).mul(baseNoBias).add(scale.mul(lora).mul(s.Scaling));
    }

    private static Tensor WeightNorm(Tensor weight, Tensor loraWeight, double scaling) =>
        linalg.norm(weight.add(loraWeight.mul(scaling)), dims: [1]);

    /// <summary>Each adapter's rows get base + its update (index_add); as PEFT, refused with DoRA or with merged adapters.</summary>
    protected override Tensor ForwardRows(Tensor x, Tensor? baseOutput, IReadOnlyList<string> rows)
    {
        var result = baseOutput ?? BaseForward(x);
        foreach (var (adapter, index) in RowIndices(rows, x))
        {
            if (_settings[adapter].Dora) throw new PeftException("per-row adapters are not supported with DoRA");
            if (AnyMerged) throw new PeftException("per-row adapters need unmerged adapters");
            var delta = Delta(adapter, x.index_select(0, index), result.index_select(0, index));
            result = result.index_add(0, index, delta, 1);
        }
        return result;
    }

    /// <summary>The adapter's contribution to the weight, [out, in]: s B A (PEFT's get_delta_weight).</summary>
    public Tensor DeltaWeight(string adapter)
    {
        var s = _settings[adapter];
        return lora_B[adapter].weight.matmul(lora_A[adapter].weight).mul(s.Scaling);
    }

    protected override void MergeOne(string adapter)
    {
        var delta = DeltaWeight(adapter);
        if (_settings[adapter].Dora)
        {
            var combined = _base.WeightOutIn().add(delta);
            var factor = lora_magnitude_vector[adapter].Weight.div(linalg.norm(combined, dims: [1]));
            var merged = combined.mul(factor.view(-1, 1));
            if (!merged.isfinite().all().item<bool>()) throw new PeftException($"merging adapter \"{adapter}\" would give non-finite weights");
            _base.SetWeight(merged);
            _doraFactors[adapter] = factor.DetachFromDisposeScope();
        }
        else
        {
            if (!delta.isfinite().all().item<bool>()) throw new PeftException($"merging adapter \"{adapter}\" would give non-finite weights");
            _base.AddToWeight(delta);
        }
        if (lora_B[adapter].bias is { } loraBias && _base.Bias is { } baseBias) baseBias.add_(loraBias.mul(_settings[adapter].Scaling));
    }

    protected override void UnmergeOne(string adapter)
    {
        var delta = DeltaWeight(adapter);
        if (_doraFactors.Remove(adapter, out var factor))
        {
            _base.SetWeight(_base.WeightOutIn().div(factor.view(-1, 1)).sub(delta));
            factor.Dispose();
        }
        else
        {
            _base.AddToWeight(delta.neg());
        }
        if (lora_B[adapter].bias is { } loraBias && _base.Bias is { } baseBias) baseBias.sub_(loraBias.mul(_settings[adapter].Scaling));
    }

    protected override void RemoveAdapter(string adapter)
    {
        lora_A.Remove(adapter);
        lora_B.Remove(adapter);
        lora_dropout.Remove(adapter);
        lora_magnitude_vector.Remove(adapter);
        _settings.Remove(adapter);
        ForgetInitial(adapter);
    }

    private void ForgetInitial(string adapter)
    {
        if (!_initial.Remove(adapter, out var w)) return;
        w.A.Dispose();
        w.B.Dispose();
    }

    /// <summary>The initial copies are no registered tensors, so the module's own disposal would not free them.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing) foreach (var adapter in _initial.Keys.ToList()) ForgetInitial(adapter);
        base.Dispose(disposing);
    }
}
