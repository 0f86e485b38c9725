using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

/// <summary>Gated feed-forward: down_proj(act(gate_proj(x)) * up_proj(x)).</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor> gate_proj;
    private nn.Module<Tensor, Tensor> up_proj;
    private nn.Module<Tensor, Tensor> down_proj;
    private readonly Func<Tensor, Tensor> _act;

    public LlamaMlp(LlamaConfig config) : base(nameof(LlamaMlp))
    {
        gate_proj = ModelLayers.Linear(config.Hidden, config.Intermediate, hasBias: config.MlpBias);
        up_proj = ModelLayers.Linear(config.Hidden, config.Intermediate, hasBias: config.MlpBias);
        down_proj = ModelLayers.Linear(config.Intermediate, config.Hidden, hasBias: config.MlpBias);
        _act = Activations.Get(config.Activation, config.Raw.Source);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => down_proj.forward(_act(gate_proj.forward(x)).mul(up_proj.forward(x)));
}
