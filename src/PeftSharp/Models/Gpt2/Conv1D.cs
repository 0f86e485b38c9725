using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Gpt2;

/// <summary>
/// GPT-2's linear layer with its weight stored [in, out] (transposed relative to nn.Linear), kept
/// that way so checkpoints load without copies and adapters know to use fan_in_fan_out.
/// </summary>
public sealed class Conv1D : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;

    public Conv1D(long inFeatures, long outFeatures, Device? device = null) : base(nameof(Conv1D))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = new Parameter(empty(inFeatures, outFeatures, device: device));
        // Left uninitialised (uncommitted pages) where the checkpoint is about to fill it: see ModelLayers.
        bias = new Parameter(Common.ModelLayers.Uninitialised ? empty(outFeatures, device: device) : zeros(outFeatures, device: device));
        if (!Common.ModelLayers.Uninitialised)
            using (no_grad()) nn.init.normal_(weight, 0, 0.02);
        RegisterComponents();
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }
    /// <summary>[in, out].</summary>
    public Parameter Weight => weight;
    public Parameter Bias => bias;

    public override Tensor forward(Tensor x)
    {
        var flat = x.reshape(-1, InFeatures);
        var y = addmm(bias, flat, weight, 1, 1);
        var shape = x.shape.ToArray();
        shape[^1] = OutFeatures;
        return y.view(shape);
    }
}
