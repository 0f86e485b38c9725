using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Keys and values that every self-attention layer prepends to its own (prefix tuning): per attention layer a key
/// and a value tensor [batch or 1, kv_heads, P, head_dim]. They are prepended after the KV cache is extended and
/// are never stored in it, so a generation step sees prefix + cached + new keys however many steps have run.
/// The model then behaves as transformers does with a cache already holding P positions: the attention mask the
/// caller passes covers P + cached + new positions, and positions the model computes start at P + cached.
/// GPT-2, Llama (kv_heads = num_key_value_heads) and BERT apply it in every layer; T5 applies it in the decoder's
/// self-attention only (PEFT's cache layout for encoder-decoder models) and its encoder ignores it.
/// </summary>
public sealed class KeyValuePrefix
{
    private readonly (Tensor Key, Tensor Value)[] _layers;

    public KeyValuePrefix(IReadOnlyList<(Tensor Key, Tensor Value)> layers)
    {
        if (layers.Count == 0) throw new PeftException("a key/value prefix needs at least one layer");
        _layers = layers.ToArray();
        Length = _layers[0].Key.dim() == 4 ? _layers[0].Key.shape[2] : -1;
    }

    /// <summary>P: the number of prefix positions every layer prepends.</summary>
    public long Length { get; }

    public int LayerCount => _layers.Length;

    public (Tensor Key, Tensor Value) this[int layer] => _layers[layer];

    /// <summary>Throws unless there is one [batch or 1, kvHeads, P, headDim] key and value per layer.</summary>
    public void Validate(string model, int layers, long batch, long kvHeads, long headDim)
    {
        if (_layers.Length != layers)
            throw new PeftException($"{model}: the key/value prefix has {_layers.Length} layers but the model has {layers} attention layers");
        for (int i = 0; i < _layers.Length; i++)
            foreach (var (what, t) in new[] { ("key", _layers[i].Key), ("value", _layers[i].Value) })
                if (t.dim() != 4 || (t.shape[0] != batch && t.shape[0] != 1) || t.shape[1] != kvHeads || t.shape[2] != Length || t.shape[3] != headDim)
                    throw new PeftException($"{model}: prefix {what} of layer {i} is [{string.Join(", ", t.shape)}], expected [{batch}, {kvHeads}, {Length}, {headDim}]");
    }

    /// <summary>[prefix; keys] and [prefix; values] along the sequence dimension.</summary>
    public (Tensor Keys, Tensor Values) Prepend(int layer, Tensor keys, Tensor values)
    {
        var (k, v) = _layers[layer];
        return (cat([Fit(k, keys), keys], 2), cat([Fit(v, values), values], 2));
    }

    private static Tensor Fit(Tensor prefix, Tensor like)
    {
        var p = prefix.to(like.dtype, like.device);
        return p.shape[0] == like.shape[0] ? p : p.expand(like.shape[0], -1, -1, -1);
    }
}
