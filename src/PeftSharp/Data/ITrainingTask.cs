namespace PeftSharp.Data;

/// <summary>
/// Turns records into tokenized examples for one kind of training. A whole sequence goes in rather than one record
/// because causal LM packing joins records; records that cannot be used are reported to the log, never dropped.
/// </summary>
public interface ITrainingTask
{
    TaskKind Kind { get; }

    IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, DataIssueLog issues);
}
