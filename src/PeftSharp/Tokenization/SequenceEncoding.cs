namespace PeftSharp.Tokenization;

/// <summary>
/// One row of a batch as a model consumes it: ids and the attention mask telling real tokens (1) from padding (0).
/// (Not named Encoding, to stay clear of System.Text.Encoding.)
/// </summary>
public sealed record SequenceEncoding(IReadOnlyList<int> InputIds, IReadOnlyList<int> AttentionMask)
{
    public int Length => InputIds.Count;
}
