using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftSharp.Data;

/// <summary>Reads one JSON object per line; a line that is not one (or not UTF-8) is reported with its number.</summary>
internal static class JsonLinesReader
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    public static IEnumerable<DataRecord> Read(string path, DataIssueLog issues)
    {
        using var reader = new Utf8DataReader(path);
        long line = 0;
        bool first = true;
        for (string? text = reader.ReadLine(); text is not null; text = reader.ReadLine())
        {
            line++;
            if (reader.TakeInvalid(line) is { } bad)
            {
                first = false;
                issues.Report(path, line, Utf8DataReader.Describe(bad.Offset));
                continue;
            }
            if (string.IsNullOrWhiteSpace(text)) continue;
            if (first)
            {
                first = false;
                string head = text.Trim();
                if (head is "[" or "{")
                    throw new PeftException($"{path}:{line}: this looks like a pretty-printed JSON document; training data must be " +
                        "JSON lines, one complete object per line");
            }
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(text, documentOptions: Options);
            }
            catch (JsonException e)
            {
                issues.Report(path, line, $"invalid JSON ({e.Message})");
                continue;
            }
            if (node is not JsonObject obj)
            {
                issues.Report(path, line, $"expected a JSON object, found {Describe(node)}");
                continue;
            }
            var fields = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
            foreach (var (key, value) in obj) fields[key] = value;
            yield return new DataRecord(fields, path, line);
        }
        if (first) throw new PeftException($"{path}: the data file is empty (JSON lines: one object per line)");
    }

    internal static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "a list",
        JsonObject => "an object",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "a value",
        },
        _ => "a value",
    };
}
