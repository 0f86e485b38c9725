using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// The inputs of one forward pass, named as in Hugging Face's <c>model(**inputs)</c> so that a
/// fixture's inputs.json maps field for field. Only InputIds (or InputsEmbeds) is required.
/// A record so that an <see cref="IForwardHook"/> can derive changed inputs with <c>with</c>; equality stays
/// reference equality (tensors are not values).
/// </summary>
public sealed record ModelInputs
{
    /// <summary>[batch, seq] int64 token ids.</summary>
    public Tensor? InputIds { get; init; }
    /// <summary>[batch, seq] with 1 for real tokens and 0 for padding; left or right padding both work.
    /// With a <see cref="Prefix"/> it covers the prefix too: [batch, P + cached + seq].</summary>
    public Tensor? AttentionMask { get; init; }
    /// <summary>[batch, seq] positions, used as given; when absent, 0..seq-1 after any prefix and cached tokens, as transformers does.</summary>
    public Tensor? PositionIds { get; init; }
    public Tensor? TokenTypeIds { get; init; }
    public Tensor? DecoderInputIds { get; init; }
    /// <summary>T5: the decoder's mask; with a <see cref="Prefix"/> it covers the prefix too.</summary>
    public Tensor? DecoderAttentionMask { get; init; }
    /// <summary>[batch, seq, hidden] embeddings used instead of InputIds (prompt methods prepend to these).</summary>
    public Tensor? InputsEmbeds { get; init; }
    /// <summary>Encoder-decoder models: the encoder output of an earlier call, so generation encodes once.</summary>
    public Tensor? EncoderLastHiddenState { get; init; }
    /// <summary>Keys and values of earlier positions, extended in place by the forward pass (generation).</summary>
    public KVCache? Cache { get; init; }
    /// <summary>Per-layer keys and values prepended to self-attention, not stored in the cache (prefix tuning).</summary>
    public KeyValuePrefix? Prefix { get; init; }
    /// <summary>
    /// Optional targets: with them the forward pass also returns <see cref="ModelOutput.Loss"/>, as transformers'
    /// <c>labels=</c> does. [batch] class ids for a classifier; [batch, seq] token ids for a language model, aligned with
    /// the input (a causal model shifts them itself), -100 where no loss is taken.
    /// </summary>
    public Tensor? Labels { get; init; }

    public Tensor RequireInputIds(string model) => InputIds ?? throw new PeftException($"{model}: input_ids are required");

    /// <summary>Positions of the prefix (0 without one).</summary>
    public long PrefixLength => Prefix?.Length ?? 0;

    public bool Equals(ModelInputs? other) => ReferenceEquals(this, other);

    public override int GetHashCode() => RuntimeHelpers.GetHashCode(this);
}
