using System.Text.Json.Nodes;

namespace PeftSharp.Data;

/// <summary>
/// One row of a data file as named fields, whatever the file format, together with where it came from so that any
/// later stage (a task finding a missing field, a label outside the label set) can name the file and line.
/// Values are JSON nodes: strings, numbers and booleans from every format, objects and lists from JSON lines.
/// </summary>
public sealed class DataRecord
{
    public DataRecord(IReadOnlyDictionary<string, JsonNode?> fields, string source, long line)
    {
        Fields = fields;
        Source = source;
        Line = line;
    }

    public IReadOnlyDictionary<string, JsonNode?> Fields { get; }
    /// <summary>The file the record was read from.</summary>
    public string Source { get; }
    /// <summary>1-based: the physical line a JSON-lines or CSV record starts on, the row number in a Parquet file.</summary>
    public long Line { get; }

    public string Location => $"{Source}:{Line}";

    /// <summary>The value of a field, or null when the field is absent or JSON null.</summary>
    public JsonNode? this[string field] => Fields.TryGetValue(field, out var v) ? v : null;

    public bool Has(string field) => this[field] is not null;

    /// <summary>A string field, or null when absent or not a string (numbers are not turned into text here).</summary>
    public string? GetString(string field) =>
        this[field] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    public override string ToString() => $"{Location} {{{string.Join(", ", Fields.Keys)}}}";
}
