using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

/// <summary>One pre-norm Llama layer: RMSNorm, attention, residual; RMSNorm, gated MLP, residual.</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    private readonly LlamaAttention self_attn;
    private readonly LlamaMlp mlp;
    private nn.Module<Tensor, Tensor> input_layernorm;
    private nn.Module<Tensor, Tensor> post_attention_layernorm;

    public LlamaDecoderLayer(LlamaConfig config) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(config);
        mlp = new LlamaMlp(config);
        input_layernorm = new RmsNorm(config.Hidden, config.RmsNormEps);
        post_attention_layernorm = new RmsNorm(config.Hidden, config.RmsNormEps);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, AttentionBias bias, KVCache? cache, KeyValuePrefix? prefix, int layer)
    {
        hidden = hidden.add(self_attn.Forward(input_layernorm.forward(hidden), cos, sin, bias, cache, prefix, layer));
        return hidden.add(mlp.forward(post_attention_layernorm.forward(hidden)));
    }
}
