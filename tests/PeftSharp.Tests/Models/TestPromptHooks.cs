using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models;

/// <summary>
/// Test-only hooks that do what PEFT's prompt tuning and prefix tuning do to a forward pass, so the seam can be
/// checked against PEFT's reference outputs without a real method. Each counts its calls.
/// </summary>
public abstract class CountingHook : IForwardHook
{
    public int Calls { get; private set; }

    public ModelInputs Prepare(PretrainedModel model, ModelInputs inputs)
    {
        Calls++;
        return Apply(model, inputs);
    }

    protected abstract ModelInputs Apply(PretrainedModel model, ModelInputs inputs);

    protected static Tensor OnesFirst(Tensor mask, long count) =>
        cat([ones(mask.shape[0], count, dtype: mask.dtype, device: mask.device), mask], 1);
}

/// <summary>
/// Prompt tuning: V embeddings [V, hidden] in front of the input embeddings, V ones in front of the mask, V zeros in
/// front of token_type_ids, explicit positions shifted by V (the virtual tokens take 0..V-1). Decoders with a KV cache
/// that already holds the virtual tokens get only the mask and positions. T5: the encoder gets them, the decoder not.
/// </summary>
public sealed class VirtualTokensHook(Tensor embeddings) : CountingHook
{
    public long Count => embeddings.shape[0];

    protected override ModelInputs Apply(PretrainedModel model, ModelInputs inputs)
    {
        long v = Count;
        bool encoderDecoder = model is IEncoderDecoder;
        bool cached = !encoderDecoder && inputs.Cache is { Length: > 0 };
        bool hasTokens = inputs.InputIds is not null || inputs.InputsEmbeds is not null;
        var result = inputs with
        {
            AttentionMask = inputs.AttentionMask is { } m ? OnesFirst(m, v) : null,
        };
        if (cached || !hasTokens)
            return encoderDecoder ? result : result with { PositionIds = inputs.PositionIds?.add(v) };
        var embeds = inputs.InputsEmbeds ?? model.InputEmbeddings.forward(inputs.InputIds!);
        long batch = embeds.shape[0];
        var prompts = embeddings.to(embeds.dtype, embeds.device).unsqueeze(0).expand(batch, -1, -1);
        result = result with
        {
            InputIds = null,
            InputsEmbeds = cat([prompts, embeds], 1),
            TokenTypeIds = inputs.TokenTypeIds is { } t ? cat([zeros(batch, v, dtype: t.dtype, device: t.device), t], 1) : null,
        };
        if (encoderDecoder || inputs.PositionIds is not { } p) return result;
        var virtualPositions = arange(v, dtype: p.dtype, device: p.device).unsqueeze(0).expand(batch, -1);
        return result with { PositionIds = cat([virtualPositions, p.add(v)], 1) };
    }
}

/// <summary>
/// Prefix tuning: a <see cref="KeyValuePrefix"/>, P ones in front of the mask that covers it (AttentionMask; T5:
/// DecoderAttentionMask), explicit positions shifted by P.
/// </summary>
public sealed class PrefixHook(KeyValuePrefix prefix) : CountingHook
{
    protected override ModelInputs Apply(PretrainedModel model, ModelInputs inputs)
    {
        long p = prefix.Length;
        if (model is IEncoderDecoder)
            return inputs with { Prefix = prefix, DecoderAttentionMask = inputs.DecoderAttentionMask is { } d ? OnesFirst(d, p) : null };
        return inputs with
        {
            Prefix = prefix,
            AttentionMask = inputs.AttentionMask is { } m ? OnesFirst(m, p) : null,
            PositionIds = inputs.PositionIds?.add(p),
        };
    }

    /// <summary>
    /// PEFT's layout of a saved prefix (no projection): prompt_embeddings [P, layers*2*heads*dim] viewed as
    /// [1, P, layers*2, heads, dim], permuted to [layers*2, 1, heads, P, dim]; encoder-decoder models first repeat the
    /// layers*2 axis (submodules 2) and give layer i the first key/value pair of chunk i of size 2*submodules.
    /// </summary>
    public static KeyValuePrefix FromPeft(Tensor promptEmbeddings, int layers, int heads, int submodules)
    {
        long p = promptEmbeddings.shape[0];
        long dim = promptEmbeddings.shape[1] / (layers * 2L * heads);
        var kv = promptEmbeddings.view(1, p, layers * 2, heads, dim);
        if (submodules == 2) kv = cat([kv, kv], 2);
        var slots = kv.permute(2, 0, 3, 1, 4);
        int chunk = 2 * submodules;
        return new KeyValuePrefix(Enumerable.Range(0, layers).Select(i => (slots[i * chunk], slots[i * chunk + 1])).ToList());
    }

    /// <summary>A cache's keys and values as a prefix (what the model computed for earlier tokens).</summary>
    public static KeyValuePrefix FromCache(KVCache cache, int layers) =>
        new(Enumerable.Range(0, layers).Select(i => cache.Get(i)).ToList());
}
