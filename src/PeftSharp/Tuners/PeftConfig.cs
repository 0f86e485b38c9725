using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners;

/// <summary>
/// The fields every adapter_config.json has, read and written in PEFT's format. Fields we do not know
/// (a newer PEFT) are kept and written back, and reported through <see cref="UnknownFields"/> so the
/// caller can warn; they are never fatal. Known fields set to a feature we do not implement are errors,
/// because ignoring them would silently change the adapter's meaning.
/// </summary>
public abstract class PeftConfig
{
    /// <summary>The PEFT version whose file layout we write.</summary>
    public const string PeftVersion = "0.18.1";

    public abstract string PeftType { get; }
    public string? TaskType { get; set; }
    public string? BaseModelNameOrPath { get; set; }
    public string? Revision { get; set; }
    public bool InferenceMode { get; set; }
    /// <summary>Whole modules trained and saved with the adapter (a new classifier, an lm_head).</summary>
    public IReadOnlyList<string>? ModulesToSave { get; set; }
    public string? WrittenByPeftVersion { get; private set; }
    /// <summary>Positions the adapter adds in front of every input (prompt methods' virtual tokens), which count against the model's position limit.</summary>
    public virtual int AddedPositions => 0;
    /// <summary>Fields of the file this config was read from that PeftSharp does not know, kept verbatim.</summary>
    public JsonObject UnknownFields { get; } = new();

    /// <summary>Every field this config type reads; the rest of a file goes to UnknownFields.</summary>
    protected virtual IEnumerable<string> KnownFields => ["peft_type", "task_type", "base_model_name_or_path", "revision",
        "inference_mode", "auto_mapping", "peft_version", "modules_to_save"];

    protected void ReadCommon(JsonConfig json)
    {
        var type = json.GetString("peft_type");
        if (!string.Equals(type, PeftType, StringComparison.OrdinalIgnoreCase))
            throw new PeftException($"{json.Source}: peft_type is {type}, expected {PeftType}");
        TaskType = json.GetString("task_type", null);
        BaseModelNameOrPath = json.GetString("base_model_name_or_path", null);
        Revision = json.GetString("revision", null);
        InferenceMode = json.GetBool("inference_mode", false);
        WrittenByPeftVersion = json.GetString("peft_version", null);
        ModulesToSave = json.GetStringList("modules_to_save");
        var known = KnownFields.ToHashSet(StringComparer.Ordinal);
        foreach (var (key, value) in json.Root)
            if (!known.Contains(key)) UnknownFields[key] = value?.DeepClone();
    }

    /// <summary>The file's JSON: PEFT's fields with their values, unknown fields kept, keys sorted as PEFT writes them.</summary>
    public string ToJson()
    {
        var fields = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["peft_type"] = PeftType,
            ["task_type"] = TaskType,
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["revision"] = Revision,
            ["inference_mode"] = InferenceMode,
            ["auto_mapping"] = null,
            ["peft_version"] = PeftVersion,
            ["modules_to_save"] = StringList(ModulesToSave),
        };
        WriteFields(fields);
        foreach (var (key, value) in UnknownFields) fields.TryAdd(key, value?.DeepClone());
        var obj = new JsonObject();
        foreach (var (k, v) in fields) obj[k] = v;
        return obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true, IndentSize = 2 });
    }

    protected abstract void WriteFields(IDictionary<string, JsonNode?> fields);

    protected static JsonNode? StringList(IReadOnlyList<string>? list) => list == null ? null : new JsonArray(list.Select(s => (JsonNode?)s).ToArray());

    protected static JsonNode? IntList(IReadOnlyList<int>? list) => list == null ? null : new JsonArray(list.Select(s => (JsonNode?)s).ToArray());

    /// <summary>Throws when a field PEFT knows holds a value that enables a feature PeftSharp lacks.</summary>
    protected static void RequireDefault(JsonConfig json, string key, string what)
    {
        var node = json.Raw(key);
        bool isDefault = node switch
        {
            null => true,
            JsonValue v when v.TryGetValue(out bool b) => !b,
            JsonObject o => o.Count == 0,
            JsonArray a => a.Count == 0,
            _ => false,
        };
        if (!isDefault) throw new PeftException($"{json.Source}: \"{key}\" ({what}) is not supported by PeftSharp yet");
    }
}
