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
public abstract class DeltaWeightLayer : AdapterLayer
{
    /// <param name="allowConv1D">False for methods PEFT applies to nn.Linear only, so their files stay readable by PEFT.</param>
    protected DeltaWeightLayer(string name, string method, nn.Module<Tensor, Tensor> baseLayer, bool allowConv1D)
        : base(name, baseLayer, registerBaseLast: true)
    {
        Base = LinearBase.TryCreate(baseLayer) is { } b && (allowConv1D || !b.FanInFanOut) ? b
            : throw new PeftException($"{method} cannot wrap a {baseLayer.GetType().Name}" + (allowConv1D ? "" : " (nn.Linear only, as PEFT)"));
        Method = method;
    }

    public LinearBase Base { get; }
    protected string Method { get; }

    /// <summary>The adapter's weight update, [out, in].</summary>
    public abstract Tensor DeltaWeight(string adapter);

    /// <summary>The adapter's contribution to the output for input x.</summary>
    protected virtual Tensor Contribution(string adapter, Tensor x) => nn.functional.linear(x, DeltaWeight(adapter));

    /// <summary>Module dropout: whether to leave the adapter out of this training step.</summary>
    protected virtual bool Skipped(string adapter) => false;

    /// <summary>y = base(x) + each active adapter's contribution (unless module dropout skips it this step).</summary>
    protected override Tensor ForwardActive(Tensor x, Tensor? baseOutput, IReadOnlyList<string> adapters)
    {
        var result = baseOutput ?? BaseForward(x);
        foreach (var adapter in adapters)
            if (!Skipped(adapter)) result = result.add(Contribution(adapter, x));
        return result;
    }

    protected override Tensor ForwardRows(Tensor x, Tensor? baseOutput, IReadOnlyList<string> rows) =>
        throw new PeftException($"per-row adapters are not supported with {Method}");

    protected override void MergeOne(string adapter) => Base.AddToWeight(DeltaWeight(adapter));

    protected override void UnmergeOne(string adapter) => Base.AddToWeight(DeltaWeight(adapter).neg());
}
