using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.IA3;

/// <summary>
/// IA3 (Liu et al., 2022): a learned vector rescales a linear layer's output (attention keys and values) or,
/// for feed-forward layers, its input. The original stays under base_layer; vectors are named ia3_l.&lt;adapter&gt;.
/// </summary>
public sealed class IA3Layer : AdapterLayer
{
    private readonly AdapterParameterDict ia3_l = new();
    private readonly LinearBase _base;

    public IA3Layer(nn.Module<Tensor, Tensor> baseLayer, bool isFeedforward) : base(nameof(IA3Layer), baseLayer)
    {
        _base = LinearBase.TryCreate(baseLayer) ?? throw new PeftException($"IA3 cannot wrap a {baseLayer.GetType().Name}");
        IsFeedforward = isFeedforward;
    }

    public bool IsFeedforward { get; }

    public void AddAdapter(string adapter, bool identityInit)
    {
        var shape = IsFeedforward ? new[] { 1L, _base.InFeatures } : new[] { _base.OutFeatures, 1L };
        var value = identityInit ? ones(shape, dtype: _base.DType, device: _base.Device) : randn(shape, dtype: _base.DType, device: _base.Device);
        ia3_l.Add(adapter, new Parameter(value));
        Added(adapter);
    }

    /// <summary>An adapter's vector l ([out, 1], or [1, in] for a feed-forward layer).</summary>
    public Parameter Vector(string adapter) => ia3_l[adapter];

    /// <summary>Overwrites an adapter's vector with the given values (cast to its dtype), without autograd.</summary>
    public void SetVector(string adapter, Tensor value)
    {
        var v = ia3_l[adapter];
        if (!value.shape.SequenceEqual(v.shape))
            throw new PeftException($"adapter \"{adapter}\": an IA3 vector [{string.Join(", ", value.shape)}] does not fit [{string.Join(", ", v.shape)}]");
        using var _ = no_grad();
        v.copy_(value);
    }

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"ia3_l.{adapter}", ia3_l[adapter]);
    }

    /// <summary>y = base(x) * l (l [out, 1]) or, feed-forward, y = base(x * l) (l [1, in]); several active vectors multiply.</summary>
    protected override Tensor ForwardActive(Tensor x, Tensor? baseOutput, IReadOnlyList<string> adapters)
    {
        Tensor? scaling = null;
        foreach (var a in adapters)
            scaling = scaling is null ? ia3_l[a].flatten() : scaling.mul(ia3_l[a].flatten());
        if (scaling is null) return baseOutput ?? BaseForward(x);
        // A forward hook's output cannot be used for feed-forward IA3: the vector scales the input.
        return IsFeedforward ? BaseForward(x.mul(scaling)) : (baseOutput ?? BaseForward(x)).mul(scaling);
    }

    /// <summary>Each adapter's rows are recomputed with its vector and copied over the base output (index_copy).</summary>
    protected override Tensor ForwardRows(Tensor x, Tensor? baseOutput, IReadOnlyList<string> rows)
    {
        var result = baseOutput ?? BaseForward(x);
        foreach (var (adapter, index) in RowIndices(rows, x))
        {
            var scaling = ia3_l[adapter].flatten();
            var sub = x.index_select(0, index);
            var y = IsFeedforward ? BaseForward(sub.mul(scaling)) : BaseForward(sub).mul(scaling);
            result = result.index_copy(0, index, y);
        }
        return result;
    }

    protected override void MergeOne(string adapter)
    {
        var v = ia3_l[adapter];
        // [out, 1] scales rows of W (and the bias); [1, in] scales its columns.
        _base.SetWeight(_base.WeightOutIn().mul(v));
        if (!IsFeedforward && _base.Bias is { } bias) bias.mul_(v.flatten());
    }

    /// <summary>Divides by the vector again; the 1e-8 (as PEFT) keeps a zero entry from giving infinities.</summary>
    protected override void UnmergeOne(string adapter)
    {
        var v = ia3_l[adapter].add(1e-8);
        _base.SetWeight(_base.WeightOutIn().div(v));
        if (!IsFeedforward && _base.Bias is { } bias) bias.div_(v.flatten());
    }

    protected override void RemoveAdapter(string adapter) => ia3_l.Remove(adapter);
}
