using System.Text.Json.Nodes;

namespace PeftSharp.Data;

/// <summary>Turns CSV rows into records keyed by the header; every value is a string, as CSV has no types.</summary>
internal static class CsvRecordReader
{
    public static IEnumerable<DataRecord> Read(string path, DataIssueLog issues)
    {
        using var reader = new Utf8DataReader(path);
        string[]? header = null;
        bool any = false;
        foreach (var row in CsvParser.Parse(reader))
        {
            var invalid = reader.TakeInvalid(row.Line);
            if (header is null)
            {
                if (invalid is { } bad) throw new PeftException($"{path}:{bad.Line}: the header row is {Utf8DataReader.Describe(bad.Offset)}");
                if (row.Error is not null) throw new PeftException($"{path}:{row.Line}: the header row is malformed: {row.Error}");
                header = row.Fields.ToArray();
                var duplicate = header.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
                if (duplicate is not null) throw new PeftException($"{path}:{row.Line}: the header names column \"{duplicate.Key}\" more than once");
                continue;
            }
            any = true;
            if (invalid is { } badText)
            {
                issues.Report(path, badText.Line, Utf8DataReader.Describe(badText.Offset));
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
        if (header is null) throw new PeftException($"{path}: the data file is empty (CSV: a header row, then one record per line)");
        if (!any) throw new PeftException($"{path}: the data file is empty: it has a header row but no records");
    }
}
