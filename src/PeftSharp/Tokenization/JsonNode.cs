using System.Text.Json;

namespace PeftSharp.Tokenization;

/// <summary>
/// A JSON value that remembers its file and field path, so every type mistake in a tokenizer file becomes a
/// PeftException naming both (for example "tokenizer.json: field 'model.merges[3]' should be ...").
/// </summary>
internal readonly struct JsonNode
{
    public JsonElement Element { get; }
    public string File { get; }
    public string Path { get; }

    public JsonNode(JsonElement element, string file, string path)
    {
        Element = element; File = file; Path = path;
    }

    public static JsonNode Load(string file)
    {
        try
        {
            using var doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(file), new JsonDocumentOptions { AllowTrailingCommas = true });
            return new JsonNode(doc.RootElement.Clone(), file, "");
        }
        catch (JsonException e)
        {
            throw new PeftException($"{file}: not valid JSON ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw new PeftException($"{file}: cannot be read ({e.Message})", e);
        }
    }

    public JsonValueKind Kind => Element.ValueKind;
    public bool IsNull => Element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    public PeftException Error(string problem) =>
        new($"{File}: {(Path.Length == 0 ? "the top level" : $"field '{Path}'")} {problem}");

    private string Child(string name) => Path.Length == 0 ? name : $"{Path}.{name}";

    /// <summary>A field of this object, or null when absent or JSON null.</summary>
    public JsonNode? Get(string name)
    {
        ExpectKind(JsonValueKind.Object, "an object");
        if (!Element.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return new JsonNode(v, File, Child(name));
    }

    public JsonNode Require(string name) =>
        Get(name) ?? throw Error($"has no '{name}'");

    public string? GetString(string name) => Get(name)?.AsString();
    public string RequireString(string name) => Require(name).AsString();
    public bool? GetBool(string name) => Get(name)?.AsBool();
    public int? GetInt(string name) => Get(name)?.AsInt();

    public string AsString()
    {
        ExpectKind(JsonValueKind.String, "a string");
        return Element.GetString()!;
    }

    public bool AsBool()
    {
        if (Element.ValueKind is JsonValueKind.True or JsonValueKind.False) return Element.GetBoolean();
        throw Error($"should be true or false but is {Describe()}");
    }

    public int AsInt()
    {
        if (Element.ValueKind == JsonValueKind.Number && Element.TryGetInt32(out int v)) return v;
        throw Error($"should be a whole number but is {Describe()}");
    }

    public double AsDouble()
    {
        if (Element.ValueKind == JsonValueKind.Number) return Element.GetDouble();
        throw Error($"should be a number but is {Describe()}");
    }

    public IEnumerable<JsonNode> Items()
    {
        ExpectKind(JsonValueKind.Array, "an array");
        int i = 0;
        foreach (var item in Element.EnumerateArray()) yield return new JsonNode(item, File, $"{Path}[{i++}]");
    }

    public IEnumerable<(string Name, JsonNode Value)> Properties()
    {
        ExpectKind(JsonValueKind.Object, "an object");
        foreach (var p in Element.EnumerateObject()) yield return (p.Name, new JsonNode(p.Value, File, Child(p.Name)));
    }

    private void ExpectKind(JsonValueKind kind, string what)
    {
        if (Element.ValueKind != kind) throw Error($"should be {what} but is {Describe()}");
    }

    private string Describe() => Element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{Truncate(Element.GetString()!)}\"",
        JsonValueKind.Number => $"the number {Element.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => Element.GetRawText(),
        _ => "null",
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
