using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.IA3;

/// <summary>
/// IA3 (Liu et al., 2022): a learned vector rescales a linear layer's output (attention keys and values) or,
/// for feed-forward layers, its input. The original stays under base_layer; vectors are named ia3_l.&lt;adapter&gt;.
/// </summary>
public sealed class IA3Layer : nn.Module<Tensor, Tensor>, IAdapterLayer, IForwardWithBase
{
    private readonly nn.Module<Tensor, Tensor> base_layer;
    private readonly AdapterParameterDict ia3_l = new();
    private readonly LinearBase _base;
    private readonly List<string> _merged = [];

    public IA3Layer(nn.Module<Tensor, Tensor> baseLayer, bool isFeedforward) : base(nameof(IA3Layer))
    {
        _base = LinearBase.TryCreate(baseLayer) ?? throw new PeftException($"IA3 cannot wrap a {baseLayer.GetType().Name}");
        base_layer = baseLayer;
        IsFeedforward = isFeedforward;
        RegisterComponents();
    }

    public bool IsFeedforward { get; }
    public nn.Module BaseLayer => base_layer;
    public IEnumerable<string> AdapterNames => ia3_l.named_parameters(recurse: false).Select(p => p.name).ToList();
    public IReadOnlyList<string> ActiveAdapters { get; set; } = [];
    public bool Disabled { get; set; }
    public IReadOnlyList<string>? RowAdapters { get; set; }
    public IReadOnlyList<string> MergedAdapters => _merged;

    public void AddAdapter(string adapter, bool identityInit)
    {
        var shape = IsFeedforward ? new[] { 1L, _base.InFeatures } : new[] { _base.OutFeatures, 1L };
        var value = identityInit ? ones(shape, dtype: _base.Weight.dtype, device: _base.Weight.device) : randn(shape, dtype: _base.Weight.dtype, device: _base.Weight.device);
        ia3_l.Add(adapter, new Parameter(value));
    }

    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"ia3_l.{adapter}", ia3_l[adapter]);
    }

    private Tensor? Scaling(IEnumerable<string> adapters)
    {
        Tensor? scaling = null;
        foreach (var a in adapters.Where(a => ia3_l.Contains(a) && !_merged.Contains(a)))
            scaling = scaling is null ? ia3_l[a].flatten() : scaling.mul(ia3_l[a].flatten());
        return scaling;
    }

    public override Tensor forward(Tensor x)
    {
        if (Disabled && _merged.Count > 0) Unmerge();
        if (Disabled || RowAdapters != null) return RowAdapters != null ? MixedBatch(x) : base_layer.forward(x);
        var scaling = Scaling(ActiveAdapters);
        if (scaling is null) return base_layer.forward(x);
        return IsFeedforward ? base_layer.forward(x.mul(scaling)) : base_layer.forward(x).mul(scaling);
    }

    /// <summary>Through a forward hook only output scaling can be applied; feed-forward IA3 needs the input.</summary>
    public Tensor ForwardWithBase(Tensor input, Tensor baseOutput)
    {
        if (IsFeedforward) return forward(input);
        var scaling = Disabled ? null : Scaling(ActiveAdapters);
        return scaling is null ? baseOutput : baseOutput.mul(scaling);
    }

    private Tensor MixedBatch(Tensor x)
    {
        var rows = RowAdapters!;
        if (rows.Count != x.shape[0]) throw new PeftException($"{rows.Count} adapter names for a batch of {x.shape[0]} rows");
        var result = base_layer.forward(x);
        foreach (var adapter in rows.Distinct().Where(ia3_l.Contains))
        {
            var index = tensor(Enumerable.Range(0, rows.Count).Where(i => rows[i] == adapter).Select(i => (long)i).ToArray(), device: x.device);
            var scaling = ia3_l[adapter].flatten();
            var sub = x.index_select(0, index);
            var y = IsFeedforward ? base_layer.forward(sub.mul(scaling)) : base_layer.forward(sub).mul(scaling);
            result = result.index_copy(0, index, y);
        }
        return result;
    }

    public void Merge(IEnumerable<string> adapters)
    {
        using var _ = no_grad();
        foreach (var adapter in adapters.Where(a => ia3_l.Contains(a) && !_merged.Contains(a)))
        {
            using var scope = NewDisposeScope();
            var v = ia3_l[adapter];
            // [out, 1] scales rows of W (and the bias); [1, in] scales its columns.
            _base.SetWeight(_base.WeightOutIn().mul(v));
            if (!IsFeedforward && _base.Bias is { } bias) bias.mul_(v.flatten());
            _merged.Add(adapter);
        }
    }

    public void Unmerge()
    {
        using var _ = no_grad();
        for (int i = _merged.Count - 1; i >= 0; i--)
        {
            using var scope = NewDisposeScope();
            var v = ia3_l[_merged[i]].add(1e-8);
            _base.SetWeight(_base.WeightOutIn().div(v));
            if (!IsFeedforward && _base.Bias is { } bias) bias.div_(v.flatten());
        }
        _merged.Clear();
    }

    public void DeleteAdapter(string adapter)
    {
        if (_merged.Contains(adapter)) throw new PeftException($"adapter \"{adapter}\" is merged; unmerge it before deleting");
        ia3_l.Remove(adapter);
        ActiveAdapters = ActiveAdapters.Where(a => a != adapter).ToList();
    }
}
