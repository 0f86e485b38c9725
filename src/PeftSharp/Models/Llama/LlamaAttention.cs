using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

/// <summary>Grouped-query self-attention with rotary positions (q_proj, k_proj, v_proj, o_proj).</summary>
public sealed class LlamaAttention : nn.Module
{
    private nn.Module<Tensor, Tensor> q_proj;
    private nn.Module<Tensor, Tensor> k_proj;
    private nn.Module<Tensor, Tensor> v_proj;
    private nn.Module<Tensor, Tensor> o_proj;
    private readonly LlamaConfig _config;

    public LlamaAttention(LlamaConfig config) : base(nameof(LlamaAttention))
    {
        _config = config;
        q_proj = ModelLayers.Linear(config.Hidden, (long)config.Heads * config.HeadDim, hasBias: config.QkvBias);
        k_proj = ModelLayers.Linear(config.Hidden, (long)config.KvHeads * config.HeadDim, hasBias: config.QkvBias);
        v_proj = ModelLayers.Linear(config.Hidden, (long)config.KvHeads * config.HeadDim, hasBias: config.QkvBias);
        o_proj = ModelLayers.Linear((long)config.Heads * config.HeadDim, config.Hidden, hasBias: config.OutputBias);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor cos, Tensor sin, AttentionBias bias, KVCache? cache, KeyValuePrefix? prefix, int layer)
    {
        var q = Attention.SplitHeads(q_proj.forward(hidden), _config.Heads, _config.HeadDim);
        var k = Attention.SplitHeads(k_proj.forward(hidden), _config.KvHeads, _config.HeadDim);
        var v = Attention.SplitHeads(v_proj.forward(hidden), _config.KvHeads, _config.HeadDim);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache != null) (k, v) = cache.Append(layer, k, v);
        // Prefix keys are used as given (no rotation), as the keys a transformers cache holds.
        if (prefix != null) (k, v) = prefix.Prepend(layer, k, v);
        long groups = _config.Heads / _config.KvHeads;
        var attn = Attention.ScaledDotProduct(q, Attention.RepeatKv(k, groups), Attention.RepeatKv(v, groups), bias,
            training ? _config.AttentionDropout : 0.0);
        return o_proj.forward(Attention.MergeHeads(attn));
    }
}
