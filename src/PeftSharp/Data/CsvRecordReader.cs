using System.Text.Json.Nodes;

namespace PeftSharp.Data;

/// <summary>Turns CSV rows into records keyed by the header; every value is a string, as CSV has no types.</summary>
internal static class CsvRecordReader
{
    public static IEnumerable<DataRecord> Read(string path, DataIssueLog issues)
    {
        using var reader = new StreamReader(path, detectEncodingFromByteOrderMarks: true);
        string[]? header = null;
        foreach (var row in CsvParser.Parse(reader))
        {
            if (header is null)
            {
                if (row.Error is not null) throw new PeftException($"{path}:{row.Line}: the header row is malformed: {row.Error}");
                header = row.Fields.ToArray();
                var duplicate = header.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
                if (duplicate is not null) throw new PeftException($"{path}:{row.Line}: the header names column \"{duplicate.Key}\" more than once");
                continue;
            }
            if (row.Error is not null)
            {
                issues.Report(path, row.Line, row.Error);
                continue;
            }
            if (row.Fields.Count != header.Length)
            {
                issues.Report(path, row.Line, $"{row.Fields.Count} field{(row.Fields.Count == 1 ? "" : "s")}, but the header has {header.Length}");
                continue;
            }
            var fields = new Dictionary<string, JsonNode?>(header.Length, StringComparer.Ordinal);
            for (int i = 0; i < header.Length; i++) fields[header[i]] = JsonValue.Create(row.Fields[i]);
            yield return new DataRecord(fields, path, row.Line);
        }
        if (header is null) throw new PeftException($"{path}: the CSV file is empty (it needs a header row)");
    }
}
