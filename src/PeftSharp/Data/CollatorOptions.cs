using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>
/// How examples become a rectangular batch. Defaults suit training: pad on the right to the longest row; no cap.
/// </summary>
public sealed record CollatorOptions
{
    /// <summary>Right for training (the default); left only for models that generate from the batch's end.</summary>
    public PaddingSide PaddingSide { get; init; } = PaddingSide.Right;

    /// <summary>
    /// A hard cap on row length (input ids, and seq2seq targets), cut from the right with their labels. Tasks already
    /// truncate with the tokenizer's special tokens kept; this is a last guard on memory, not the place to truncate text.
    /// </summary>
    public int? MaxLength { get; init; }

    /// <summary>Round the padded length up to a multiple of this (8 suits tensor cores); null pads to the longest row.</summary>
    public int? PadToMultipleOf { get; init; }

    /// <summary>Seq2seq: when set, batches carry decoder_input_ids (labels shifted right behind this id).</summary>
    public long? DecoderStartTokenId { get; init; }
}
