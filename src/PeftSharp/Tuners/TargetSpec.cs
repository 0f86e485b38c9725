using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners;

/// <summary>
/// Which modules an adapter goes into, with PEFT's rules: target_modules as a list (a name equals an entry
/// or ends with "." + entry), as a string (a regular expression matched against the whole name), or
/// "all-linear"; exclude_modules the same way; layers_to_transform with layers_pattern.
/// </summary>
public sealed record TargetSpec
{
    public const string AllLinear = "all-linear";

    public IReadOnlyList<string>? TargetList { get; init; }
    public string? TargetRegex { get; init; }
    public IReadOnlyList<string>? ExcludeList { get; init; }
    public string? ExcludeRegex { get; init; }
    public IReadOnlyList<int>? LayersToTransform { get; init; }
    public IReadOnlyList<string>? LayersPattern { get; init; }

    public bool IsAllLinear => TargetRegex == AllLinear || (TargetList is [AllLinear]);
    public bool HasTargets => TargetList is { Count: > 0 } || TargetRegex != null;

    public static TargetSpec Read(JsonConfig json) => new()
    {
        TargetList = ListOrNull(json, "target_modules"),
        TargetRegex = StringOrNull(json, "target_modules"),
        ExcludeList = ListOrNull(json, "exclude_modules"),
        ExcludeRegex = StringOrNull(json, "exclude_modules"),
        LayersToTransform = json.Raw("layers_to_transform") switch
        {
            null => null,
            JsonArray => json.GetIntList("layers_to_transform"),
            _ => [json.GetInt("layers_to_transform")],
        },
        LayersPattern = ListOrNull(json, "layers_pattern") ?? (StringOrNull(json, "layers_pattern") is { } p ? [p] : null),
    };

    public void Write(IDictionary<string, JsonNode?> fields)
    {
        fields["target_modules"] = TargetRegex != null ? JsonValue.Create(TargetRegex) : TargetList == null ? null : new JsonArray(TargetList.Select(s => (JsonNode?)s).ToArray());
        fields["exclude_modules"] = ExcludeRegex != null ? JsonValue.Create(ExcludeRegex) : ExcludeList == null ? null : new JsonArray(ExcludeList.Select(s => (JsonNode?)s).ToArray());
        fields["layers_to_transform"] = LayersToTransform == null ? null : new JsonArray(LayersToTransform.Select(s => (JsonNode?)s).ToArray());
        fields["layers_pattern"] = LayersPattern == null ? null : LayersPattern.Count == 1 ? JsonValue.Create(LayersPattern[0]) : new JsonArray(LayersPattern.Select(s => (JsonNode?)s).ToArray());
    }

    private static IReadOnlyList<string>? ListOrNull(JsonConfig json, string key) => json.Raw(key) is JsonArray ? json.GetStringList(key) : null;
    private static string? StringOrNull(JsonConfig json, string key) => json.Raw(key) is JsonValue ? json.GetString(key, null) : null;
}
