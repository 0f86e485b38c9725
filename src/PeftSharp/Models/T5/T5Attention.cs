using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.T5;

/// <summary>
/// T5 attention: unscaled q k^T plus a learned relative-position bias (owned by the first layer of
/// each stack and shared by the others), computed explicitly rather than through SDPA because T5
/// applies no 1/sqrt(d) scaling and adds the bias before the softmax.
/// </summary>
public sealed class T5Attention : nn.Module
{
    private nn.Module<Tensor, Tensor> q;
    private nn.Module<Tensor, Tensor> k;
    private nn.Module<Tensor, Tensor> v;
    private nn.Module<Tensor, Tensor> o;
    private readonly Embedding? relative_attention_bias;
    private readonly T5Config _config;
    private readonly bool _bidirectional;

    public T5Attention(T5Config config, bool hasRelativeBias, bool bidirectional) : base(nameof(T5Attention))
    {
        _config = config;
        _bidirectional = bidirectional;
        q = ModelLayers.Linear(config.DModel, config.InnerDim, hasBias: false);
        k = ModelLayers.Linear(config.DModel, config.InnerDim, hasBias: false);
        v = ModelLayers.Linear(config.DModel, config.InnerDim, hasBias: false);
        o = ModelLayers.Linear(config.InnerDim, config.DModel, hasBias: false);
        relative_attention_bias = hasRelativeBias ? nn.Embedding(config.Buckets, config.Heads) : null;
        RegisterComponents();
    }

    /// <summary>[1, heads, query, key] bias for queries at positions past..past+query-1.</summary>
    public Tensor PositionBias(long queryLength, long keyLength, long past, Device device)
    {
        if (relative_attention_bias is null) throw new InvalidOperationException("only the first layer owns the relative attention bias");
        var context = arange(past, past + queryLength, dtype: ScalarType.Int64, device: device).unsqueeze(1);
        var memory = arange(keyLength, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        var buckets = RelativeBucket(memory.sub(context));
        return relative_attention_bias.forward(buckets).permute(2, 0, 1).unsqueeze(0);
    }

    private Tensor RelativeBucket(Tensor relative)
    {
        long buckets = _config.Buckets;
        var result = zeros_like(relative);
        if (_bidirectional)
        {
            buckets /= 2;
            result = result.add(relative.gt(0).to(ScalarType.Int64).mul(buckets));
            relative = relative.abs();
        }
        else
        {
            relative = relative.clamp_max(0).neg();
        }
        long maxExact = buckets / 2;
        var isSmall = relative.lt(maxExact);
        var large = relative.to(ScalarType.Float32).div(maxExact).log()
            .div(Math.Log((double)_config.MaxDistance / maxExact)).mul(buckets - maxExact)
            .to(ScalarType.Int64).add(maxExact).clamp_max(buckets - 1);
        return result.add(where(isSmall, relative, large));
    }

    /// <summary>keyValueSource is the encoder output for cross-attention, else null (self-attention).
    /// A prefix is prepended to self-attention keys and values only.</summary>
    public Tensor Forward(Tensor hidden, Tensor? keyValueSource, Tensor bias, KVCache? cache, KeyValuePrefix? prefix, int layer)
    {
        var source = keyValueSource ?? hidden;
        var qs = Attention.SplitHeads(q.forward(hidden), _config.Heads, _config.DKv);
        var ks = Attention.SplitHeads(k.forward(source), _config.Heads, _config.DKv);
        var vs = Attention.SplitHeads(v.forward(source), _config.Heads, _config.DKv);
        if (cache != null && keyValueSource is null) (ks, vs) = cache.Append(layer, ks, vs);
        if (prefix != null && keyValueSource is null) (ks, vs) = prefix.Prepend(layer, ks, vs);
        var scores = qs.matmul(ks.transpose(-1, -2)).add(bias);
        var weights = nn.functional.softmax(scores.to(ScalarType.Float32), -1).to(scores.dtype);
        weights = nn.functional.dropout(weights, _config.Dropout, training);
        return o.forward(Attention.MergeHeads(weights.matmul(vs)));
    }
}
