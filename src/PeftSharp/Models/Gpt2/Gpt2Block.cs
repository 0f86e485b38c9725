using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Gpt2;

/// <summary>One pre-norm GPT-2 layer: ln_1, attention, residual; ln_2, MLP, residual.</summary>
public sealed class Gpt2Block : nn.Module
{
    private nn.Module<Tensor, Tensor> ln_1;
    private readonly Gpt2Attention attn;
    private nn.Module<Tensor, Tensor> ln_2;
    private readonly Gpt2Mlp mlp;

    public Gpt2Block(Gpt2Config config, int layerIndex) : base(nameof(Gpt2Block))
    {
        ln_1 = nn.LayerNorm(config.Hidden, config.LayerNormEps);
        attn = new Gpt2Attention(config, layerIndex);
        ln_2 = nn.LayerNorm(config.Hidden, config.LayerNormEps);
        mlp = new Gpt2Mlp(config);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, AttentionBias bias, KVCache? cache, KeyValuePrefix? prefix, int layer)
    {
        hidden = hidden.add(attn.Forward(ln_1.forward(hidden), bias, cache, prefix, layer));
        return hidden.add(mlp.forward(ln_2.forward(hidden)));
    }
}
