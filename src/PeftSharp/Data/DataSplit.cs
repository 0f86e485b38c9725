namespace PeftSharp.Data;

/// <summary>
/// Training and validation parts of a dataset, plus what belonged to neither (rows of another split, such as "test",
/// in a split column), kept so that every record is accounted for.
/// </summary>
public sealed record DataSplit<T>(IReadOnlyList<T> Train, IReadOnlyList<T> Validation, IReadOnlyList<T> Other)
{
    public override string ToString() => $"{Train.Count} train, {Validation.Count} validation" + (Other.Count > 0 ? $", {Other.Count} in other splits" : "");
}
