using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning;

/// <summary>
/// Prefix tuning's forward: PEFT's past_key_values as a <see cref="KeyValuePrefix"/>. The [V, layers*2*heads*dim]
/// prefix is viewed as [1, V, layers*2, heads, dim] and permuted to [layers*2, 1, heads, V, dim]; layer i takes slots
/// 2i and 2i+1. Encoder-decoder models (num_transformer_submodules 2) first repeat the layers*2 axis and split it into
/// chunks of 4, each layer taking its chunk's first pair: layer i gets saved pair 2i (mod layers), so with two layers
/// both T5 decoder layers get layer 0's keys and values. That is PEFT's legacy cache layout, copied so outputs agree; the prefix
/// acts in decoder self-attention only. The mask covering it gets V ones in front (T5: the decoder mask); explicit
/// position_ids are dropped as PEFT 0.18 does, so the model numbers real tokens from V (BERT included, as transformers
/// does with a cache of V positions); token_type_ids are kept for classification and dropped otherwise, as PEFT does.
/// </summary>
public sealed class PrefixHook(Func<bool, Tensor> prefix, int layers, int heads, int submodules, string? taskType) : IForwardHook
{
    public ModelInputs Prepare(PretrainedModel model, ModelInputs inputs)
    {
        var kv = Layout(prefix(model.training), layers, heads, submodules);
        long p = kv.Length;
        bool classifies = taskType is TaskTypes.SequenceClassification or "TOKEN_CLS" or "QUESTION_ANS";
        if (model is IEncoderDecoder)
            return inputs with
            {
                Prefix = kv,
                DecoderAttentionMask = inputs.DecoderAttentionMask is { } d ? VirtualTokensHook.OnesFirst(d, p) : null,
                PositionIds = null,
                TokenTypeIds = null,
            };
        return inputs with
        {
            Prefix = kv,
            AttentionMask = inputs.AttentionMask is { } m ? VirtualTokensHook.OnesFirst(m, p) : null,
            PositionIds = null,
            TokenTypeIds = classifies ? inputs.TokenTypeIds : null,
        };
    }

    /// <summary>PEFT's get_prompt reshaping of a [V, layers*2*heads*dim] prefix into per-layer keys and values.</summary>
    public static KeyValuePrefix Layout(Tensor prefix, int layers, int heads, int submodules)
    {
        long v = prefix.shape[0];
        long width = prefix.shape[1];
        if (width % (layers * 2L * heads) != 0)
            throw new PeftException($"prefix of width {width} does not split into {layers} layers x 2 x {heads} heads");
        var slots = prefix.view(1, v, layers * 2, heads, width / (layers * 2L * heads));
        if (submodules == 2) slots = cat([slots, slots], 2);
        slots = slots.permute(2, 0, 3, 1, 4);
        int chunk = 2 * submodules;
        return new KeyValuePrefix(Enumerable.Range(0, layers).Select(i => (slots[i * chunk], slots[i * chunk + 1])).ToList());
    }
}
