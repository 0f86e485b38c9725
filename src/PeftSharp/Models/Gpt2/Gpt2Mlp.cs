using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Gpt2;

/// <summary>GPT-2's feed-forward block: c_fc, activation, c_proj.</summary>
public sealed class Gpt2Mlp : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor> c_fc;
    private nn.Module<Tensor, Tensor> c_proj;
    private readonly nn.Module<Tensor, Tensor> dropout;
    private readonly Func<Tensor, Tensor> _act;

    public Gpt2Mlp(Gpt2Config config) : base(nameof(Gpt2Mlp))
    {
        c_fc = new Conv1D(config.Hidden, config.Inner);
        c_proj = new Conv1D(config.Inner, config.Hidden);
        dropout = nn.Dropout(config.ResidDropout);
        _act = Activations.Get(config.Activation, config.Raw.Source);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => dropout.forward(c_proj.forward(_act(c_fc.forward(x))));
}
