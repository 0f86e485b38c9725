using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>
/// Pads a list of tokenized examples into one <see cref="Batch"/>: input ids with the pad id, attention mask 0 on
/// padding, and labels with -100 on padding so that padding never contributes to the loss. It makes plain arrays
/// only; tensors are created by <see cref="Batch.ToTensors"/> when the trainer asks, so data holds no native memory.
/// </summary>
public sealed class Collator
{
    public Collator(long padTokenId, CollatorOptions? options = null)
    {
        PadTokenId = padTokenId;
        Options = options ?? new CollatorOptions();
        if (Options.MaxLength is { } max && max <= 0) throw new PeftException($"max_length must be positive, not {max}");
        if (Options.PadToMultipleOf is { } multiple && multiple <= 0)
            throw new PeftException($"pad_to_multiple_of must be positive, not {multiple}");
    }

    /// <summary>A collator padding with the tokenizer's pad token, or its EOS for models without one (GPT-2, Llama).</summary>
    public static Collator For(ITextTokenizer tokenizer, CollatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int pad = tokenizer.PadTokenId ?? tokenizer.EosTokenId
            ?? throw new PeftException("The tokenizer has neither a pad nor an EOS token to pad batches with; give the collator a pad id.");
        return new Collator(pad, options);
    }

    public long PadTokenId { get; }
    public CollatorOptions Options { get; }

    public Batch Collate(IReadOnlyList<TokenizedExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("A batch needs at least one example.", nameof(examples));
        var kind = examples[0].Kind;
        if (examples.Any(e => e.Kind != kind)) throw new ArgumentException("A batch cannot mix examples of different task kinds.", nameof(examples));

        var inputs = examples.Select(e => Cap(e.InputIds)).ToArray();
        int length = PaddedLength(inputs);
        int rows = examples.Count;
        var inputIds = new long[rows * length];
        var mask = new long[rows * length];
        for (int r = 0; r < rows; r++) Place(inputs[r], inputIds, mask, r, length, PadTokenId);

        long[] labels;
        long[] labelShape;
        long[]? decoderInputIds = null;
        switch (kind)
        {
            case TaskKind.CausalLm:
                labels = new long[rows * length];
                for (int r = 0; r < rows; r++)
                {
                    var l = examples[r].Labels ?? examples[r].InputIds;
                    if (l.Length != examples[r].InputIds.Length)
                        throw new ArgumentException($"{examples[r].Source}:{examples[r].Line}: labels and input ids differ in length.", nameof(examples));
                    Place(Cap(l), labels, null, r, length, TokenizedExample.IgnoreIndex);
                }
                labelShape = [rows, length];
                break;
            case TaskKind.SequenceClassification:
                labels = examples.Select(e => (long)e.ClassLabel!.Value).ToArray();
                labelShape = [rows];
                break;
            default:
                var targets = examples.Select(e => Cap(e.TargetIds!)).ToArray();
                int targetLength = PaddedLength(targets);
                labels = new long[rows * targetLength];
                for (int r = 0; r < rows; r++) Place(targets[r], labels, null, r, targetLength, TokenizedExample.IgnoreIndex);
                labelShape = [rows, targetLength];
                if (Options.DecoderStartTokenId is { } start)
                    decoderInputIds = Seq2SeqTask.ShiftRight(labels, targetLength, start, PadTokenId);
                break;
        }
        return new Batch(kind, rows, length, inputIds, mask, labels, labelShape, decoderInputIds,
            examples.Select(e => $"{e.Source}:{e.Line}").ToArray());
    }

    private int[] Cap(int[] ids) => Options.MaxLength is { } max && ids.Length > max ? ids[..max] : ids;

    private int PaddedLength(int[][] rows)
    {
        int length = rows.Max(r => r.Length);
        if (Options.PadToMultipleOf is { } multiple) length = (length + multiple - 1) / multiple * multiple;
        return Math.Max(length, 1);
    }

    private void Place(int[] ids, long[] target, long[]? mask, int row, int length, long pad)
    {
        int offset = Options.PaddingSide == PaddingSide.Left ? length - ids.Length : 0;
        var span = target.AsSpan(row * length, length);
        span.Fill(pad);
        for (int i = 0; i < ids.Length; i++) span[offset + i] = ids[i];
        if (mask is not null) mask.AsSpan(row * length + offset, ids.Length).Fill(1);
    }
}
