namespace PeftSharp.Data;

/// <summary>
/// The one entry point for data files: JSON lines, CSV or Parquet in, <see cref="DataRecord"/>s out, each naming its
/// file and line. Records stream lazily, so a large file is never held whole; malformed ones go to the
/// <see cref="DataIssueLog"/>, which skips or fails by its policy.
/// </summary>
public static class DataFileReader
{
    /// <summary>The format a file's extension implies (.jsonl, .json, .ndjson, .csv, .parquet).</summary>
    public static DataFormat FormatOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".jsonl" or ".json" or ".ndjson" => DataFormat.JsonLines,
            ".csv" => DataFormat.Csv,
            ".parquet" or ".pq" => DataFormat.Parquet,
            var ext => throw new PeftException($"{path}: cannot tell the data format from the extension \"{ext}\"; " +
                "use .jsonl, .csv or .parquet, or name the format explicitly"),
        };
    }

    /// <summary>Streams the records of one file. The file is opened when enumeration starts.</summary>
    public static IEnumerable<DataRecord> Read(string path, DataIssueLog issues, DataFormat format = DataFormat.Auto)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(issues);
        if (format == DataFormat.Auto) format = FormatOf(path);
        if (!File.Exists(path)) throw new PeftException($"{path}: data file not found");
        return format switch
        {
            DataFormat.JsonLines => JsonLinesReader.Read(path, issues),
            DataFormat.Csv => CsvRecordReader.Read(path, issues),
            DataFormat.Parquet => ParquetRecordReader.Read(path),
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
    }

    /// <summary>Reads a whole file into memory (what splitting and shuffling need).</summary>
    public static IReadOnlyList<DataRecord> ReadAll(string path, DataIssueLog issues, DataFormat format = DataFormat.Auto) =>
        Read(path, issues, format).ToList();
}
