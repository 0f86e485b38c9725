using System.Text.Json.Nodes;
using PeftSharp.Data;

namespace PeftSharp.Tests.Data;

/// <summary>The repository's data folder as copied next to the tests, temp files, and records made in code.</summary>
internal static class DataFiles
{
    public static string Repo(string relative) => Path.Combine(AppContext.BaseDirectory, "data", relative);
    public static string Uci => Repo("uci-sentiment/uci-sentiment.jsonl");

    /// <summary>Records from JSON objects, numbered from line 1, as if read from <paramref name="source"/>.</summary>
    public static List<DataRecord> Records(string source, params string[] jsonObjects) =>
        jsonObjects.Select((json, i) =>
        {
            var obj = JsonNode.Parse(json)!.AsObject();
            return new DataRecord(obj.ToDictionary(kv => kv.Key, kv => kv.Value), source, i + 1);
        }).ToList();
}

/// <summary>A fresh temp folder deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "peftsharp-data-" + Guid.NewGuid().ToString("N"));

    public TempFolder() => Directory.CreateDirectory(Path);

    public string Write(string name, string content)
    {
        var file = File(name);
        System.IO.File.WriteAllText(file, content);
        return file;
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { /* a leftover temp folder is harmless */ }
    }
}
