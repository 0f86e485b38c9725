namespace PeftSharp.Data;

/// <summary>
/// One record that was skipped, and why, located well enough for the user to open the file and fix it.
/// <see cref="Line"/> is the physical line for JSON lines and CSV, the 1-based row for Parquet.
/// </summary>
public sealed record DataIssue(string Source, long Line, string Reason)
{
    public override string ToString() => $"{Source}:{Line}: {Reason}";
}
