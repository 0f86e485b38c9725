using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// The shared shape of methods whose adapter is an additive weight update delta W ([out, in]) beside a linear
/// layer (LoHa, LoKr, VeRA, AdaLoRA): forward adds each active adapter's contribution, merging adds delta W to the
/// base weight and unmerging subtracts it. A method supplies its parameters and delta W, and may compute the
/// contribution from x more cheaply than x delta W^T.
/// </summary>
public abstract class DeltaWeightLayer : nn.Module<Tensor, Tensor>, IAdapterLayer, IForwardWithBase
{
    private readonly nn.Module<Tensor, Tensor> base_layer;
    private readonly List<string> _adapters = [];
    private readonly List<string> _merged = [];

    /// <param name="allowConv1D">False for methods PEFT applies to nn.Linear only, so their files stay readable by PEFT.</param>
    protected DeltaWeightLayer(string name, string method, nn.Module<Tensor, Tensor> baseLayer, bool allowConv1D) : base(name)
    {
        Base = LinearBase.TryCreate(baseLayer) is { } b && (allowConv1D || !b.FanInFanOut) ? b
            : throw new PeftException($"{method} cannot wrap a {baseLayer.GetType().Name}" + (allowConv1D ? "" : " (nn.Linear only, as PEFT)"));
        base_layer = baseLayer;
        Method = method;
        RegisterComponents();
    }

    public LinearBase Base { get; }
    protected string Method { get; }
    public nn.Module BaseLayer => base_layer;
    public IEnumerable<string> AdapterNames => _adapters;
    public IReadOnlyList<string> ActiveAdapters { get; set; } = [];
    public bool Disabled { get; set; }
    public IReadOnlyList<string>? RowAdapters { get; set; }
    public IReadOnlyList<string> MergedAdapters => _merged;

    public abstract IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter);

    /// <summary>The adapter's weight update, [out, in].</summary>
    public abstract Tensor DeltaWeight(string adapter);

    /// <summary>The adapter's contribution to the output for input x.</summary>
    protected virtual Tensor Contribution(string adapter, Tensor x) => nn.functional.linear(x, DeltaWeight(adapter));

    /// <summary>Module dropout: whether to leave the adapter out of this training step.</summary>
    protected virtual bool Skipped(string adapter) => false;

    /// <summary>Frees the adapter's own tensors and settings.</summary>
    protected abstract void RemoveAdapter(string adapter);

    /// <summary>Derived classes call this once an adapter's tensors exist.</summary>
    protected void Added(string adapter) => _adapters.Add(adapter);

    public override Tensor forward(Tensor x)
    {
        if (Disabled && _merged.Count > 0) Unmerge();
        return ForwardWithBase(x, base_layer.forward(x));
    }

    public Tensor ForwardWithBase(Tensor x, Tensor result)
    {
        if (Disabled) return result;
        if (RowAdapters != null) throw new PeftException($"per-row adapters are not supported with {Method}");
        foreach (var adapter in ActiveAdapters.Where(a => _adapters.Contains(a) && !_merged.Contains(a) && !Skipped(a)))
            result = result.add(Contribution(adapter, x));
        return result;
    }

    public void Merge(IEnumerable<string> adapters)
    {
        using var _ = no_grad();
        foreach (var adapter in adapters.Where(a => _adapters.Contains(a) && !_merged.Contains(a)))
        {
            using var scope = NewDisposeScope();
            Base.AddToWeight(DeltaWeight(adapter));
            _merged.Add(adapter);
        }
    }

    public void Unmerge()
    {
        using var _ = no_grad();
        for (int i = _merged.Count - 1; i >= 0; i--)
        {
            using var scope = NewDisposeScope();
            Base.AddToWeight(DeltaWeight(_merged[i]).neg());
        }
        _merged.Clear();
    }

    public void DeleteAdapter(string adapter)
    {
        if (_merged.Contains(adapter)) throw new PeftException($"adapter \"{adapter}\" is merged; unmerge it before deleting");
        RemoveAdapter(adapter);
        _adapters.Remove(adapter);
        ActiveAdapters = ActiveAdapters.Where(a => a != adapter).ToList();
    }
}
