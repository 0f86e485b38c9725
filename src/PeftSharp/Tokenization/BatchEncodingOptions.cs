namespace PeftSharp.Tokenization;

/// <summary>
/// How texts become one rectangular batch, with transformers' defaults: pad to the longest row on the right,
/// truncate (when <see cref="MaxLength"/> is set) from the right, keeping the special tokens.
/// </summary>
public sealed record BatchEncodingOptions
{
    /// <summary>Longest row allowed, special tokens included; null means no truncation.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Pad every row to <see cref="MaxLength"/> rather than to the longest row of the batch.</summary>
    public bool PadToMaxLength { get; init; }

    /// <summary>Round the padded length up to a multiple of this (tensor cores like multiples of 8).</summary>
    public int? PadToMultipleOf { get; init; }

    public PaddingSide PaddingSide { get; init; } = PaddingSide.Right;
    public PaddingSide TruncationSide { get; init; } = PaddingSide.Right;
    public bool AddSpecialTokens { get; init; } = true;

    /// <summary>The id to pad with when the tokenizer has none (GPT-2 and Llama are usually padded with EOS).</summary>
    public int? PadTokenId { get; init; }
}
