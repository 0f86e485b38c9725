using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>
/// Sequence classification: a text and its label become input ids (with the tokenizer's special tokens, truncated
/// to <see cref="MaxLength"/> keeping them) and a class id from the <see cref="LabelMap"/>. A label outside the map
/// is a malformed record, so a typo in a validation file cannot quietly become a new class.
/// </summary>
public sealed class ClassificationTask : ITrainingTask
{
    private readonly ITextTokenizer _tokenizer;

    public ClassificationTask(ITextTokenizer tokenizer, LabelMap labels)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(labels);
        _tokenizer = tokenizer;
        Labels = labels;
    }

    public TaskKind Kind => TaskKind.SequenceClassification;
    public LabelMap Labels { get; }
    /// <summary>Defaults to "text", also accepting "sentence" (GLUE's name) when "text" is absent.</summary>
    public string TextField { get; init; } = "text";
    public string LabelField { get; init; } = "label";
    /// <summary>Longest example in tokens, special tokens included; null leaves texts whole.</summary>
    public int? MaxLength { get; init; }
    /// <summary>
    /// An unlabelled pool (active selection, pseudo-labelling): the label field is not read and every example gets class 0,
    /// whose loss means nothing; only the predictions are used.
    /// </summary>
    public bool IgnoreLabels { get; init; }

    public IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, DataIssueLog issues)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(issues);
        RecordFields.CheckMaxLength(_tokenizer, MaxLength, "MaxLength");
        var names = RecordFields.Candidates(TextField, "text", "sentence");
        var examples = new List<TokenizedExample>();
        foreach (var record in records)
        {
            var text = RecordFields.Text(record, names, issues);
            if (text is null) continue;
            if (IgnoreLabels)
            {
                examples.Add(new TokenizedExample { InputIds = RecordFields.EncodeTruncated(_tokenizer, text, MaxLength), ClassLabel = 0, Source = record.Source, Line = record.Line });
                continue;
            }
            if (!LabelMap.TryText(record[LabelField], out var label, out var error))
            {
                issues.Report(record, $"\"{LabelField}\" {error}");
                continue;
            }
            if (Labels.IdOf(label) is not { } id)
            {
                issues.Report(record, $"label \"{label}\" is not one of the {Labels.Count} labels ({string.Join(", ", Labels.Names)})");
                continue;
            }
            examples.Add(new TokenizedExample
            {
                InputIds = RecordFields.EncodeTruncated(_tokenizer, text, MaxLength),
                ClassLabel = id,
                Source = record.Source,
                Line = record.Line,
            });
        }
        return examples;
    }
}
