using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Gpt2;

/// <summary>GPT-2 self-attention: one fused q/k/v projection (c_attn) and an output projection (c_proj).</summary>
public sealed class Gpt2Attention : nn.Module
{
    private nn.Module<Tensor, Tensor> c_attn;
    private nn.Module<Tensor, Tensor> c_proj;
    private readonly nn.Module<Tensor, Tensor> resid_dropout;
    private readonly Gpt2Config _config;
    private readonly double _queryScale;

    public Gpt2Attention(Gpt2Config config, int layerIndex) : base(nameof(Gpt2Attention))
    {
        _config = config;
        c_attn = new Conv1D(config.Hidden, 3L * config.Hidden);
        c_proj = new Conv1D(config.Hidden, config.Hidden);
        resid_dropout = nn.Dropout(config.ResidDropout);
        // SDPA always divides by sqrt(head_dim); fold GPT-2's other scaling options into the queries.
        double scale = config.ScaleAttnWeights ? 1.0 : Math.Sqrt(config.HeadDim);
        if (config.ScaleAttnByInverseLayerIdx) scale /= layerIndex + 1;
        _queryScale = scale;
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, AttentionBias bias, KVCache? cache, KeyValuePrefix? prefix, int layer)
    {
        var qkv = c_attn.forward(hidden).split(_config.Hidden, dim: 2);
        var q = Attention.SplitHeads(qkv[0], _config.Heads, _config.HeadDim);
        var k = Attention.SplitHeads(qkv[1], _config.Heads, _config.HeadDim);
        var v = Attention.SplitHeads(qkv[2], _config.Heads, _config.HeadDim);
        if (_queryScale != 1.0) q = q.mul(_queryScale);
        if (cache != null) (k, v) = cache.Append(layer, k, v);
        if (prefix != null) (k, v) = prefix.Prepend(layer, k, v);
        var attn = Attention.ScaledDotProduct(q, k, v, bias, training ? _config.AttnDropout : 0.0);
        return resid_dropout.forward(c_proj.forward(Attention.MergeHeads(attn)));
    }
}
