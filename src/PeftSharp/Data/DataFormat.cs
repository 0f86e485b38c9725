namespace PeftSharp.Data;

/// <summary>
/// The file formats training data can come in. <see cref="Auto"/> picks one from the extension, so that the common
/// case needs no option while a file with an unusual name can still be read.
/// </summary>
public enum DataFormat
{
    Auto,
    /// <summary>One JSON object per line (.jsonl, .json); blank lines are skipped.</summary>
    JsonLines,
    /// <summary>RFC 4180 comma-separated values with a header row (.csv).</summary>
    Csv,
    /// <summary>Apache Parquet with flat string, integer, boolean or floating-point columns (.parquet).</summary>
    Parquet,
}
