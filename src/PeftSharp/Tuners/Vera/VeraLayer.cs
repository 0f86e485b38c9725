using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Vera;

/// <summary>
/// VeRA (Kopiczko et al., 2024): y = base(x) + lambda_b * (B (lambda_d * (A dropout(x)))) with A and B frozen random
/// projections shared by every layer (sliced to the layer's size) and only the two vectors trained.
/// </summary>
public sealed class VeraLayer : nn.Module<Tensor, Tensor>, IAdapterLayer, IForwardWithBase, ISharedAdapterTensors
{
    private readonly nn.Module<Tensor, Tensor> base_layer;
    private readonly AdapterParameterDict vera_lambda_b = new();
    private readonly AdapterParameterDict vera_lambda_d = new();
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> vera_dropout = new();
    private readonly Dictionary<string, (Tensor A, Tensor B)> _projections = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unsavedProjections = new(StringComparer.Ordinal);
    private readonly List<string> _merged = [];
    private readonly LinearBase _base;

    public VeraLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(VeraLayer))
    {
        _base = LinearBase.TryCreate(baseLayer) ?? throw new PeftException($"VeRA cannot wrap a {baseLayer.GetType().Name}");
        base_layer = baseLayer;
        RegisterComponents();
    }

    public LinearBase Base => _base;
    public nn.Module BaseLayer => base_layer;
    public IEnumerable<string> AdapterNames => _projections.Keys.ToList();
    public IReadOnlyList<string> ActiveAdapters { get; set; } = [];
    public bool Disabled { get; set; }
    public IReadOnlyList<string>? RowAdapters { get; set; }
    public IReadOnlyList<string> MergedAdapters => _merged;

    /// <summary>Adds an adapter over the shared projections A [r, max_in] and B [max_out, r] (not owned by this layer).</summary>
    public void AddAdapter(string adapter, Tensor sharedA, Tensor sharedB, VeraConfig config)
    {
        long r = sharedA.shape[0];
        var dtype = _base.Weight.dtype;
        var device = _base.Weight.device;
        var lambdaB = config.InitWeights ? zeros(_base.OutFeatures, dtype: dtype, device: device) : ones(_base.OutFeatures, dtype: dtype, device: device);
        var lambdaD = config.InitWeights ? full(r, config.DInitial, dtype: dtype, device: device) : randn(r, dtype: dtype, device: device);
        vera_lambda_b.Add(adapter, new Parameter(lambdaB));
        vera_lambda_d.Add(adapter, new Parameter(lambdaD));
        vera_dropout.Add(adapter, config.VeraDropout > 0 ? nn.Dropout(config.VeraDropout) : nn.Identity());
        _projections[adapter] = (sharedA, sharedB);
        if (!config.SaveProjection) _unsavedProjections.Add(adapter);
    }

    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"vera_lambda_b.{adapter}", vera_lambda_b[adapter]);
        yield return ($"vera_lambda_d.{adapter}", vera_lambda_d[adapter]);
    }

    /// <summary>The projections, unless the config regenerates them from projection_prng_key (save_projection false).</summary>
    public IEnumerable<(string Name, Tensor Tensor)> SharedTensors(string adapter)
    {
        if (_unsavedProjections.Contains(adapter)) yield break;
        var (a, b) = _projections[adapter];
        yield return ("vera_A", a);
        yield return ("vera_B", b);
    }

    private (Tensor A, Tensor B) Sliced(string adapter)
    {
        var (a, b) = _projections[adapter];
        return (a[.., ..(int)_base.InFeatures], b[..(int)_base.OutFeatures, ..]);
    }

    public override Tensor forward(Tensor x)
    {
        if (Disabled && _merged.Count > 0) Unmerge();
        return ForwardWithBase(x, base_layer.forward(x));
    }

    public Tensor ForwardWithBase(Tensor x, Tensor result)
    {
        if (Disabled) return result;
        if (RowAdapters != null) throw new PeftException("per-row adapters are not supported with VeRA");
        foreach (var adapter in ActiveAdapters.Where(a => _projections.ContainsKey(a) && !_merged.Contains(a)))
        {
            var (a, b) = Sliced(adapter);
            var h = nn.functional.linear(vera_dropout[adapter].forward(x), a).mul(vera_lambda_d[adapter]);
            result = result.add(nn.functional.linear(h, b).mul(vera_lambda_b[adapter]));
        }
        return result;
    }

    /// <summary>(lambda_b B)(lambda_d A): the adapter's contribution to the weight, [out, in].</summary>
    public Tensor DeltaWeight(string adapter)
    {
        var (a, b) = Sliced(adapter);
        return b.mul(vera_lambda_b[adapter].unsqueeze(-1)).matmul(a.mul(vera_lambda_d[adapter].unsqueeze(-1)));
    }

    public void Merge(IEnumerable<string> adapters)
    {
        using var _ = no_grad();
        foreach (var adapter in adapters.Where(a => _projections.ContainsKey(a) && !_merged.Contains(a)))
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
        vera_lambda_b.Remove(adapter);
        vera_lambda_d.Remove(adapter);
        vera_dropout.Remove(adapter);
        _projections.Remove(adapter);
        ActiveAdapters = ActiveAdapters.Where(a => a != adapter).ToList();
    }
}
