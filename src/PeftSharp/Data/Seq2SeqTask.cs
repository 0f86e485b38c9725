using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>
/// Sequence-to-sequence (T5): the source becomes the encoder's input ids, the target the labels, each with the
/// tokenizer's special tokens (T5 ends both with EOS). The decoder's inputs are not stored: they are the labels shifted
/// right behind decoder_start_token_id (<see cref="ShiftRight"/>), which the collator or the model derives, as in
/// transformers.
/// </summary>
public sealed class Seq2SeqTask : ITrainingTask
{
    private readonly ITextTokenizer _tokenizer;

    public Seq2SeqTask(ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
    }

    public TaskKind Kind => TaskKind.Seq2SeqLm;
    public string SourceField { get; init; } = "source";
    public string TargetField { get; init; } = "target";
    /// <summary>Text put before every source, such as T5's "summarize: " or "translate English to German: ".</summary>
    public string SourcePrefix { get; init; } = "";
    public int? MaxSourceLength { get; init; }
    public int? MaxTargetLength { get; init; }

    public IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, DataIssueLog issues)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(issues);
        RecordFields.CheckMaxLength(_tokenizer, MaxSourceLength, "MaxSourceLength");
        RecordFields.CheckMaxLength(_tokenizer, MaxTargetLength, "MaxTargetLength");
        var examples = new List<TokenizedExample>();
        foreach (var record in records)
        {
            var source = RecordFields.Text(record, [SourceField], issues);
            if (source is null) continue;
            var target = RecordFields.Text(record, [TargetField], issues);
            if (target is null) continue;
            examples.Add(new TokenizedExample
            {
                InputIds = RecordFields.EncodeTruncated(_tokenizer, SourcePrefix + source, MaxSourceLength),
                TargetIds = RecordFields.EncodeTruncated(_tokenizer, target, MaxTargetLength),
                Source = record.Source,
                Line = record.Line,
            });
        }
        return examples;
    }

    /// <summary>
    /// T5's decoder input from its labels ([rows, columns], row after row): each row moves one place right behind
    /// <paramref name="decoderStartTokenId"/>, and ignored positions (-100) become <paramref name="padTokenId"/>,
    /// as transformers' <c>_shift_right</c> does.
    /// </summary>
    public static long[] ShiftRight(ReadOnlySpan<long> labels, int columns, long decoderStartTokenId, long padTokenId)
    {
        if (columns <= 0 || labels.Length % columns != 0)
            throw new ArgumentException($"{labels.Length} labels do not form rows of {columns}.", nameof(columns));
        var shifted = new long[labels.Length];
        for (int row = 0; row < labels.Length / columns; row++)
        {
            int start = row * columns;
            shifted[start] = decoderStartTokenId;
            for (int c = 1; c < columns; c++)
            {
                long v = labels[start + c - 1];
                shifted[start + c] = v == TokenizedExample.IgnoreIndex ? padTokenId : v;
            }
        }
        return shifted;
    }
}
