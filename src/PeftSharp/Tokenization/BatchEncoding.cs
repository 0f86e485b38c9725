namespace PeftSharp.Tokenization;

/// <summary>
/// Texts turned into equal-length rows of input_ids and attention_mask, padded and truncated as transformers does,
/// which is what a training collator or batched generation feeds the model.
/// </summary>
public sealed class BatchEncoding
{
    private BatchEncoding(IReadOnlyList<SequenceEncoding> rows, int sequenceLength)
    {
        Rows = rows;
        SequenceLength = sequenceLength;
    }

    public IReadOnlyList<SequenceEncoding> Rows { get; }
    public int BatchSize => Rows.Count;
    public int SequenceLength { get; }
    public SequenceEncoding this[int row] => Rows[row];

    /// <summary>input_ids row after row, as a [BatchSize, SequenceLength] tensor wants them.</summary>
    public long[] InputIdsFlat() => Rows.SelectMany(r => r.InputIds).Select(i => (long)i).ToArray();

    /// <summary>attention_mask row after row.</summary>
    public long[] AttentionMaskFlat() => Rows.SelectMany(r => r.AttentionMask).Select(i => (long)i).ToArray();

    /// <summary>Encodes, truncates and pads <paramref name="texts"/>.</summary>
    public static BatchEncoding Create(ITextTokenizer tokenizer, IEnumerable<string> texts, BatchEncodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(texts);
        options ??= new BatchEncodingOptions();
        int special = options.AddSpecialTokens ? tokenizer.AddSpecialTokens([]).Count : 0;
        if (options.MaxLength is { } max && max < special)
            throw new PeftException($"max_length {max} leaves no room for the {special} special tokens this tokenizer adds");

        var sequences = new List<IReadOnlyList<int>>();
        foreach (var text in texts)
        {
            // As in transformers, truncation cuts the text's ids and keeps the special tokens around them.
            IReadOnlyList<int> ids = tokenizer.Encode(text, addSpecialTokens: false);
            if (options.MaxLength is { } limit) ids = Truncate(ids, limit - special, options.TruncationSide);
            sequences.Add(options.AddSpecialTokens ? tokenizer.AddSpecialTokens(ids) : ids);
        }
        return Pad(sequences, options.PadTokenId ?? tokenizer.PadTokenId, options);
    }

    /// <summary>Pads sequences that are already ids (special tokens included); truncates them to MaxLength if set.</summary>
    public static BatchEncoding FromIds(IEnumerable<IReadOnlyList<int>> sequences, int? padTokenId, BatchEncodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        options ??= new BatchEncodingOptions();
        var list = sequences.Select(s => options.MaxLength is { } m ? Truncate(s, m, options.TruncationSide) : s).ToList();
        return Pad(list, options.PadTokenId ?? padTokenId, options);
    }

    private static IReadOnlyList<int> Truncate(IReadOnlyList<int> ids, int length, PaddingSide side)
    {
        if (ids.Count <= length) return ids;
        return side == PaddingSide.Right ? ids.Take(length).ToList() : ids.Skip(ids.Count - length).ToList();
    }

    private static BatchEncoding Pad(List<IReadOnlyList<int>> sequences, int? padId, BatchEncodingOptions options)
    {
        int target = sequences.Count == 0 ? 0 : sequences.Max(s => s.Count);
        if (options.PadToMaxLength)
            target = options.MaxLength ?? throw new PeftException("padding to max_length needs max_length to be set");
        if (options.PadToMultipleOf is { } multiple)
        {
            if (multiple <= 0) throw new PeftException($"pad_to_multiple_of must be positive, not {multiple}");
            target = (target + multiple - 1) / multiple * multiple;
        }
        if (sequences.Any(s => s.Count < target) && padId is null)
            throw new PeftException("the texts need padding but the tokenizer has no pad token (tokenizer_config.json pad_token; for GPT-2 or Llama, usually the EOS token)");

        var rows = new List<SequenceEncoding>(sequences.Count);
        foreach (var ids in sequences)
        {
            int pad = target - ids.Count;
            var inputIds = new int[target];
            var mask = new int[target];
            int offset = options.PaddingSide == PaddingSide.Left ? pad : 0;
            for (int i = 0; i < target; i++) inputIds[i] = padId ?? 0;
            for (int i = 0; i < ids.Count; i++)
            {
                inputIds[offset + i] = ids[i];
                mask[offset + i] = 1;
            }
            rows.Add(new SequenceEncoding(inputIds, mask));
        }
        return new BatchEncoding(rows, target);
    }
}
