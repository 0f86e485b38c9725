using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// The inputs of one forward pass, named as in Hugging Face's <c>model(**inputs)</c> so that a
/// fixture's inputs.json maps field for field. Only InputIds (or InputsEmbeds) is required.
/// </summary>
public sealed class ModelInputs
{
    /// <summary>[batch, seq] int64 token ids.</summary>
    public Tensor? InputIds { get; init; }
    /// <summary>[batch, seq] with 1 for real tokens and 0 for padding; left or right padding both work.</summary>
    public Tensor? AttentionMask { get; init; }
    /// <summary>[batch, seq] positions; when absent, 0..seq-1 after any cached tokens, as transformers does.</summary>
    public Tensor? PositionIds { get; init; }
    public Tensor? TokenTypeIds { get; init; }
    public Tensor? DecoderInputIds { get; init; }
    public Tensor? DecoderAttentionMask { get; init; }
    /// <summary>[batch, seq, hidden] embeddings used instead of InputIds (prompt methods prepend to these).</summary>
    public Tensor? InputsEmbeds { get; init; }
    /// <summary>Encoder-decoder models: the encoder output of an earlier call, so generation encodes once.</summary>
    public Tensor? EncoderLastHiddenState { get; init; }
    /// <summary>Keys and values of earlier positions, extended in place by the forward pass (generation).</summary>
    public KVCache? Cache { get; init; }

    public Tensor RequireInputIds(string model) => InputIds ?? throw new PeftException($"{model}: input_ids are required");
}
