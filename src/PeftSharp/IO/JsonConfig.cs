using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftSharp.IO;

/// <summary>
/// A JSON object read from an untrusted file (config.json, adapter_config.json, inputs.json) with
/// typed getters whose errors name the file and the key, so a bad file never surfaces as a bare
/// KeyNotFoundException or InvalidCastException. Keeps the raw object so unknown fields survive a round trip.
/// </summary>
public sealed class JsonConfig
{
    /// <summary>Files larger than this are not configs; refusing them bounds memory.</summary>
    public const long MaxFileBytes = 64L * 1024 * 1024;

    public JsonConfig(JsonObject root, string source)
    {
        Root = root;
        Source = source;
    }

    public JsonObject Root { get; }
    /// <summary>The file (or description) the object came from, used in every error message.</summary>
    public string Source { get; }

    public static JsonConfig Load(string path)
    {
        if (!File.Exists(path)) throw new PeftException($"{path}: file not found");
        var length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new PeftException($"{path}: {length} bytes is too large for a JSON config");
        return Parse(File.ReadAllText(path), path);
    }

    public static JsonConfig Parse(string json, string source)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 64, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new PeftException($"{source}: invalid JSON ({e.Message})", e);
        }
        if (node is not JsonObject obj) throw new PeftException($"{source}: expected a JSON object at the top level");
        return new JsonConfig(obj, source);
    }

    public bool Has(string key) => Root.TryGetPropertyValue(key, out var v) && v != null;

    public JsonNode? Raw(string key) => Root.TryGetPropertyValue(key, out var v) ? v : null;

    public int GetInt(string key) => GetInt(key, null) ?? throw Missing(key);
    public int? GetInt(string key, int? fallback) => Read(key, fallback, v => Number(v) is { } d && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue ? (int)d : null, "an integer");

    public long? GetLong(string key, long? fallback) => Read(key, fallback, v => v.TryGetValue(out long i) ? i
        : Number(v) is { } d && d == Math.Floor(d) && Math.Abs(d) < 9e15 ? (long)d : null, "an integer");

    public double GetDouble(string key) => GetDouble(key, null) ?? throw Missing(key);
    public double? GetDouble(string key, double? fallback) => Read(key, fallback, Number, "a number");

    /// <summary>A JSON number as a double, whether the node was parsed from text or built in code.</summary>
    public static double? Number(JsonValue v) => v.GetValueKind() == JsonValueKind.Number
        ? double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) : null;

    public bool GetBool(string key, bool fallback) => Read<bool?>(key, fallback, v => v.TryGetValue(out bool b) ? b : null, "true or false") ?? fallback;

    public string GetString(string key) => GetString(key, null) ?? throw Missing(key);
    public string? GetString(string key, string? fallback) => Read(key, fallback, v => v.TryGetValue(out string? s) ? s : null, "a string");

    /// <summary>A nested object, or null when absent or JSON null.</summary>
    public JsonConfig? GetObject(string key)
    {
        var node = Raw(key);
        if (node == null) return null;
        if (node is not JsonObject o) throw new PeftException($"{Source}: \"{key}\" must be an object");
        return new JsonConfig(o, $"{Source} ({key})");
    }

    public IReadOnlyList<string>? GetStringList(string key)
    {
        var node = Raw(key);
        if (node == null) return null;
        if (node is not JsonArray a) throw new PeftException($"{Source}: \"{key}\" must be a list of strings");
        return a.Select((n, i) => n is JsonValue v && v.TryGetValue(out string? s) ? s
            : throw new PeftException($"{Source}: \"{key}\"[{i}] must be a string")).ToList();
    }

    public IReadOnlyList<int>? GetIntList(string key)
    {
        var node = Raw(key);
        if (node == null) return null;
        if (node is not JsonArray a) throw new PeftException($"{Source}: \"{key}\" must be a list of integers");
        return a.Select((n, i) => n is JsonValue v && Number(v) is { } x && x == Math.Floor(x) && Math.Abs(x) <= int.MaxValue ? (int)x
            : throw new PeftException($"{Source}: \"{key}\"[{i}] must be an integer")).ToList();
    }

    /// <summary>A string-keyed object of numbers, such as rank_pattern.</summary>
    public IReadOnlyDictionary<string, double> GetNumberMap(string key)
    {
        var node = Raw(key);
        if (node == null) return new Dictionary<string, double>();
        if (node is not JsonObject o) throw new PeftException($"{Source}: \"{key}\" must be an object of numbers");
        return o.ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && Number(v) is { } d ? d
            : throw new PeftException($"{Source}: \"{key}\".\"{kv.Key}\" must be a number"));
    }

    /// <summary>A rectangular list of integer lists, such as input_ids in inputs.json.</summary>
    public long[][]? GetIntMatrix(string key)
    {
        var node = Raw(key);
        if (node == null) return null;
        if (node is not JsonArray rows || rows.Count == 0) throw new PeftException($"{Source}: \"{key}\" must be a non-empty list of lists of integers");
        var result = new long[rows.Count][];
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r] is not JsonArray row) throw new PeftException($"{Source}: \"{key}\"[{r}] must be a list of integers");
            result[r] = row.Select((n, c) => n is JsonValue v && Number(v) is { } x && x == Math.Floor(x) && Math.Abs(x) < 9e15 ? (long)x
                : throw new PeftException($"{Source}: \"{key}\"[{r}][{c}] must be an integer")).ToArray();
            if (result[r].Length != result[0].Length)
                throw new PeftException($"{Source}: \"{key}\" rows have different lengths ({result[0].Length} and {result[r].Length} in row {r})");
        }
        return result;
    }

    private T? Read<T>(string key, T? fallback, Func<JsonValue, T?> convert, string what)
    {
        var node = Raw(key);
        if (node == null) return fallback;
        if (node is JsonValue value && convert(value) is { } result) return result;
        throw new PeftException($"{Source}: \"{key}\" must be {what}, got {node.ToJsonString()}");
    }

    private PeftException Missing(string key) => new($"{Source}: required field \"{key}\" is missing");
}
