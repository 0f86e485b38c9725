using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.AdaLora;

/// <summary>
/// AdaLoRA's SVD-shaped update: delta W = B (A * E) * alpha / (ranknum + 1e-5), with E the singular values the rank
/// allocator keeps or zeroes. ranknum is the rank the layer was created with (init_r), as in PEFT, also after the
/// matrices were cut to the ranks a finished adapter kept.
/// </summary>
public sealed class AdaLoraLayer : nn.Module<Tensor, Tensor>, IAdapterLayer, IForwardWithBase
{
    private readonly nn.Module<Tensor, Tensor> base_layer;
    private readonly AdapterParameterDict lora_A = new();
    private readonly AdapterParameterDict lora_B = new();
    private readonly AdapterParameterDict lora_E = new();
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> lora_dropout = new();
    private readonly Dictionary<string, (double Scaling, double RankNum)> _settings = new(StringComparer.Ordinal);
    private readonly List<string> _merged = [];
    private readonly LinearBase _base;

    public AdaLoraLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(AdaLoraLayer))
    {
        _base = LinearBase.TryCreate(baseLayer) ?? throw new PeftException($"AdaLoRA cannot wrap a {baseLayer.GetType().Name}");
        base_layer = baseLayer;
        RegisterComponents();
    }

    public nn.Module BaseLayer => base_layer;
    public IEnumerable<string> AdapterNames => _settings.Keys.ToList();
    public IReadOnlyList<string> ActiveAdapters { get; set; } = [];
    public bool Disabled { get; set; }
    public IReadOnlyList<string>? RowAdapters { get; set; }
    public IReadOnlyList<string> MergedAdapters => _merged;

    public void AddAdapter(string adapter, int rank, AdaLoraConfig config)
    {
        var (dtype, device) = (_base.Weight.dtype, _base.Weight.device);
        var a = new Parameter(empty(rank, _base.InFeatures, dtype: dtype, device: device));
        var b = new Parameter(empty(_base.OutFeatures, rank, dtype: dtype, device: device));
        var e = new Parameter(empty(rank, 1, dtype: dtype, device: device));
        using (no_grad())
        {
            nn.init.normal_(a, 0, 0.02);
            nn.init.normal_(b, 0, 0.02);
            if (config.InitLoraWeights) nn.init.zeros_(e); else nn.init.normal_(e, 0, 1);
        }
        lora_A.Add(adapter, a);
        lora_B.Add(adapter, b);
        lora_E.Add(adapter, e);
        lora_dropout.Add(adapter, config.LoraDropout > 0 ? nn.Dropout(config.LoraDropout) : nn.Identity());
        _settings[adapter] = (config.LoraAlpha > 0 ? config.LoraAlpha : config.InitR, config.InitR);
    }

    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"lora_A.{adapter}", lora_A[adapter]);
        yield return ($"lora_B.{adapter}", lora_B[adapter]);
        yield return ($"lora_E.{adapter}", lora_E[adapter]);
    }

    public Tensor DeltaWeight(string adapter)
    {
        var s = _settings[adapter];
        return lora_B[adapter].matmul(lora_A[adapter].mul(lora_E[adapter])).mul(s.Scaling / (s.RankNum + 1e-5));
    }

    public override Tensor forward(Tensor x)
    {
        if (Disabled && _merged.Count > 0) Unmerge();
        return ForwardWithBase(x, base_layer.forward(x));
    }

    public Tensor ForwardWithBase(Tensor x, Tensor result)
    {
        if (Disabled) return result;
        if (RowAdapters != null) throw new PeftException("per-row adapters are not supported with AdaLoRA");
        foreach (var adapter in ActiveAdapters.Where(a => _settings.ContainsKey(a) && !_merged.Contains(a)))
        {
            var s = _settings[adapter];
            var h = nn.functional.linear(lora_dropout[adapter].forward(x), lora_A[adapter].mul(lora_E[adapter]));
            result = result.add(nn.functional.linear(h, lora_B[adapter]).mul(s.Scaling / (s.RankNum + 1e-5)));
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
        lora_A.Remove(adapter);
        lora_B.Remove(adapter);
        lora_E.Remove(adapter);
        lora_dropout.Remove(adapter);
        _settings.Remove(adapter);
        ActiveAdapters = ActiveAdapters.Where(a => a != adapter).ToList();
    }
}
