namespace PeftSharp.Data;

/// <summary>
/// One training example after its task has tokenized it, before padding: what the <see cref="Collator"/> batches.
/// It remembers the record it came from (for causal LM blocks: the record the block starts in) so that a problem
/// found later can still be traced to a file and line.
/// </summary>
public sealed record TokenizedExample
{
    /// <summary>The label value that cross-entropy ignores (PyTorch's ignore_index, transformers' convention).</summary>
    public const int IgnoreIndex = -100;

    public required int[] InputIds { get; init; }
    /// <summary>Causal LM: one label per input id, <see cref="IgnoreIndex"/> where no loss is taken (prompt, padding).</summary>
    public int[]? Labels { get; init; }
    /// <summary>Seq2seq: the target ids (the decoder's labels).</summary>
    public int[]? TargetIds { get; init; }
    /// <summary>Sequence classification: the class id.</summary>
    public int? ClassLabel { get; init; }
    public string Source { get; init; } = "";
    public long Line { get; init; }

    public TaskKind Kind => ClassLabel is not null ? TaskKind.SequenceClassification
        : TargetIds is not null ? TaskKind.Seq2SeqLm
        : TaskKind.CausalLm;
}
