using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.LoHa;

/// <summary>
/// LoHa (Hyeon-Woo et al., FedPara): the weight update is the Hadamard product of two low-rank products,
/// delta W = (w1_a w1_b) * (w2_a w2_b) * alpha / r, which reaches rank r^2 with 4 r (in + out) parameters.
/// </summary>
public sealed class LoHaLayer : nn.Module<Tensor, Tensor>, IAdapterLayer, IForwardWithBase
{
    private readonly nn.Module<Tensor, Tensor> base_layer;
    private readonly AdapterParameterDict hada_w1_a = new();
    private readonly AdapterParameterDict hada_w1_b = new();
    private readonly AdapterParameterDict hada_w2_a = new();
    private readonly AdapterParameterDict hada_w2_b = new();
    private readonly Dictionary<string, (double Scaling, double RankDropout, double ModuleDropout)> _settings = new(StringComparer.Ordinal);
    private readonly List<string> _merged = [];
    private readonly LinearBase _base;

    public LoHaLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(LoHaLayer))
    {
        _base = LinearBase.TryCreate(baseLayer) is { FanInFanOut: false } b ? b
            : throw new PeftException($"LoHa wraps nn.Linear layers only (as PEFT), not {baseLayer.GetType().Name}");
        base_layer = baseLayer;
        RegisterComponents();
    }

    public nn.Module BaseLayer => base_layer;
    public IEnumerable<string> AdapterNames => _settings.Keys.ToList();
    public IReadOnlyList<string> ActiveAdapters { get; set; } = [];
    public bool Disabled { get; set; }
    public IReadOnlyList<string>? RowAdapters { get; set; }
    public IReadOnlyList<string> MergedAdapters => _merged;

    public void AddAdapter(string adapter, int rank, double alpha, LoHaConfig config)
    {
        long outF = _base.OutFeatures, inF = _base.InFeatures;
        Parameter New(long rows, long cols) => new(empty(rows, cols, dtype: _base.Weight.dtype, device: _base.Weight.device));
        var (w1a, w1b, w2a, w2b) = (New(outF, rank), New(rank, inF), New(outF, rank), New(rank, inF));
        using (no_grad())
        {
            foreach (var w in new[] { w1a, w1b, w2a }) nn.init.kaiming_uniform_(w, a: Math.Sqrt(5));
            if (config.InitWeights) nn.init.zeros_(w2b); else nn.init.kaiming_uniform_(w2b, a: Math.Sqrt(5));
        }
        hada_w1_a.Add(adapter, w1a);
        hada_w1_b.Add(adapter, w1b);
        hada_w2_a.Add(adapter, w2a);
        hada_w2_b.Add(adapter, w2b);
        _settings[adapter] = (alpha / rank, config.RankDropout, config.ModuleDropout);
    }

    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"hada_w1_a.{adapter}", hada_w1_a[adapter]);
        yield return ($"hada_w1_b.{adapter}", hada_w1_b[adapter]);
        yield return ($"hada_w2_a.{adapter}", hada_w2_a[adapter]);
        yield return ($"hada_w2_b.{adapter}", hada_w2_b[adapter]);
    }

    /// <summary>delta W [out, in]; in training, rank dropout drops whole rows and rescales as PEFT does.</summary>
    public Tensor DeltaWeight(string adapter)
    {
        var s = _settings[adapter];
        var weight = hada_w1_a[adapter].matmul(hada_w1_b[adapter]).mul(hada_w2_a[adapter].matmul(hada_w2_b[adapter])).mul(s.Scaling);
        if (training && s.RankDropout > 0)
        {
            var drop = rand(weight.shape[0], device: weight.device).gt(s.RankDropout).to(weight.dtype);
            drop = drop.div(drop.mean()).unsqueeze(1);
            weight = weight.mul(drop);
        }
        return weight;
    }

    public override Tensor forward(Tensor x)
    {
        if (Disabled && _merged.Count > 0) Unmerge();
        return ForwardWithBase(x, base_layer.forward(x));
    }

    public Tensor ForwardWithBase(Tensor x, Tensor result)
    {
        if (Disabled) return result;
        if (RowAdapters != null) throw new PeftException("per-row adapters are not supported with LoHa");
        foreach (var adapter in ActiveAdapters.Where(a => _settings.ContainsKey(a) && !_merged.Contains(a)))
        {
            if (training && _settings[adapter].ModuleDropout > 0 && rand(1).item<float>() <= _settings[adapter].ModuleDropout) continue;
            result = result.add(nn.functional.linear(x, DeltaWeight(adapter)));
        }
        return result;
    }

    public void Merge(IEnumerable<string> adapters)
    {
        using var _ = no_grad();
        foreach (var adapter in adapters.Where(a => _settings.ContainsKey(a) && !_merged.Contains(a)))
        {
            using var scope = NewDisposeScope();
            _base.AddToWeight(DeltaWeight(adapter));
            _merged.Add(adapter);
        }
    }

    public void Unmerge()
    {
        using var _ = no_grad();
        for (int i = _merged.Count - 1; i >= 0; i--)
        {
            using var scope = NewDisposeScope();
            _base.AddToWeight(DeltaWeight(_merged[i]).neg());
        }
        _merged.Clear();
    }

    public void DeleteAdapter(string adapter)
    {
        if (_merged.Contains(adapter)) throw new PeftException($"adapter \"{adapter}\" is merged; unmerge it before deleting");
        foreach (var dict in new[] { hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b }) dict.Remove(adapter);
        _settings.Remove(adapter);
        ActiveAdapters = ActiveAdapters.Where(a => a != adapter).ToList();
    }
}
