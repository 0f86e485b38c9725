using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.T5;

/// <summary>One T5 block: layer.0 self-attention, (decoder) layer.1 cross-attention, then the feed-forward.</summary>
public sealed class T5Block : nn.Module
{
    private readonly ModuleList<nn.Module> layer;

    public T5Block(T5Config config, bool isDecoder, bool hasRelativeBias) : base(nameof(T5Block))
    {
        var layers = new List<nn.Module> { new T5LayerSelfAttention(config, hasRelativeBias, bidirectional: !isDecoder) };
        if (isDecoder) layers.Add(new T5LayerCrossAttention(config));
        layers.Add(new T5LayerFF(config));
        layer = nn.ModuleList(layers.ToArray());
        RegisterComponents();
    }

    public T5Attention SelfAttention => ((T5LayerSelfAttention)layer[0]).Attention;

    public Tensor Forward(Tensor hidden, Tensor selfBias, Tensor? encoderHidden, Tensor? crossBias, KVCache? cache, KeyValuePrefix? prefix, int index)
    {
        hidden = ((T5LayerSelfAttention)layer[0]).Forward(hidden, selfBias, cache, prefix, index);
        if (encoderHidden is not null) hidden = ((T5LayerCrossAttention)layer[1]).Forward(hidden, encoderHidden, crossBias!);
        return ((T5LayerFF)layer[^1]).Forward(hidden);
    }
}

/// <summary>
/// The encoder or the decoder: shared embedding, blocks, final norm. The relative-position bias of
/// block 0 is computed once and, with the mask added, reused by every block, as in transformers.
/// </summary>
public sealed class T5Stack : nn.Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<T5Block> block;
    private nn.Module<Tensor, Tensor> final_layer_norm;
    private readonly nn.Module<Tensor, Tensor> dropout;
    private readonly bool _isDecoder;
    private readonly T5Config _config;

    public T5Stack(T5Config config, Embedding shared, bool isDecoder) : base(nameof(T5Stack))
    {
        _isDecoder = isDecoder;
        _config = config;
        embed_tokens = shared;
        int count = isDecoder ? config.DecoderLayers : config.Layers;
        block = nn.ModuleList(Enumerable.Range(0, count).Select(i => new T5Block(config, isDecoder, hasRelativeBias: i == 0)).ToArray());
        final_layer_norm = new RmsNorm(config.DModel, config.LayerNormEps);
        dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    /// <param name="prefix">Decoder only: keys and values prepended to self-attention; they count as past
    /// positions, so the relative bias puts queries at P + cached and keys at 0 (as transformers with a cache of P).</param>
    public Tensor Forward(Tensor? ids, Tensor? embeds, Tensor? mask, Tensor? encoderHidden, Tensor? encoderMask, KVCache? cache,
        KeyValuePrefix? prefix = null)
    {
        if (prefix != null && !_isDecoder) throw new InvalidOperationException("the T5 encoder takes no key/value prefix");
        var hidden = dropout.forward(embeds ?? embed_tokens.forward(ids!));
        long length = hidden.shape[1];
        prefix?.Validate("T5 decoder", block.Count, hidden.shape[0], _config.Heads, _config.DKv);
        long prefixLength = prefix?.Length ?? 0;
        long past = prefixLength + (cache?.Length ?? 0);
        var attention = _isDecoder
            ? AttentionBias.Causal(mask, length, past, hidden.dtype, hidden.device, explicitMask: true, prefixLength: prefixLength)
            : AttentionBias.Padding(mask, hidden.dtype, hidden.device);
        var selfBias = block[0].SelfAttention.PositionBias(length, past + length, past, hidden.device).to(hidden.dtype);
        if (attention.Mask is not null) selfBias = selfBias.add(attention.Mask);
        Tensor? crossBias = null;
        if (encoderHidden is not null)
            crossBias = AttentionBias.Padding(encoderMask, hidden.dtype, hidden.device).Mask ?? zeros(1, 1, 1, encoderHidden.shape[1], dtype: hidden.dtype, device: hidden.device);
        for (int i = 0; i < block.Count; i++)
            hidden = block[i].Forward(hidden, selfBias, encoderHidden, crossBias, cache, prefix, i);
        return dropout.forward(final_layer_norm.forward(hidden));
    }
}
