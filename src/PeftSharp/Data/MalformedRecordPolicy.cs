namespace PeftSharp.Data;

/// <summary>
/// What to do with a record that cannot be used. Either way the record is named (file and line): a bad record is
/// never dropped without a word, because a silently shrunken dataset trains a different model.
/// </summary>
public enum MalformedRecordPolicy
{
    /// <summary>Report the record through the <see cref="DataIssueLog"/>, count it, and go on.</summary>
    Skip,
    /// <summary>Stop with a <see cref="PeftException"/> naming the file and line.</summary>
    Fail,
}
