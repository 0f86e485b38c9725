using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PeftSharp.Options;

/// <summary>How a value was written, which decides what it may become: a YAML plain scalar is typed by the option it
/// sets (<c>8</c> is an int for lora_r, a string for text_field), a quoted or JSON string is only ever a string.</summary>
public enum ConfigValueKind { Null, Plain, String, Number, Bool, List, Map }

/// <summary>
/// One value from a training config, YAML, JSON or a command-line flag, in a form that does not care which: the
/// options are converted from this in one place, so the three sources accept and reject exactly the same things.
/// Only two levels are kept (a list of scalars); anything deeper is a type error anyway, and not walking it means
/// a YAML alias bomb costs nothing.
/// </summary>
public sealed record ConfigValue(ConfigValueKind Kind, string Text, IReadOnlyList<ConfigValue> Items, int? Line)
{
    public static ConfigValue Null(int? line = null) => new(ConfigValueKind.Null, "null", [], line);
    public static ConfigValue Plain(string text, int? line = null) => new(ConfigValueKind.Plain, text, [], line);
    public static ConfigValue String(string text, int? line = null) => new(ConfigValueKind.String, text, [], line);
    public static ConfigValue List(IReadOnlyList<ConfigValue> items, int? line = null) => new(ConfigValueKind.List, "", items, line);

    /// <summary>How the value looks in an error message.</summary>
    public string Describe() => Kind switch
    {
        ConfigValueKind.Null => "null",
        ConfigValueKind.String => JsonSerializer.Serialize(Text),
        ConfigValueKind.List => "a list",
        ConfigValueKind.Map => "a mapping",
        _ => Text,
    };

    /// <summary>The scalars YAML's core schema reads as null.</summary>
    private static bool IsYamlNull(string text) => text is "" or "~" or "null" or "Null" or "NULL";

    public static ConfigValue FromYaml(YamlNode node, bool descend = true)
    {
        int line = (int)node.Start.Line;
        switch (node)
        {
            case YamlScalarNode scalar:
                var text = scalar.Value ?? "";
                if (scalar.Tag is { IsEmpty: false, IsNonSpecific: false } tag && tag.Value == "tag:yaml.org,2002:str" || scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted
                    or ScalarStyle.Literal or ScalarStyle.Folded)
                    return String(text, line);
                return IsYamlNull(text) ? Null(line) : Plain(text, line);
            case YamlSequenceNode sequence:
                return List(descend ? sequence.Children.Select(c => FromYaml(c, descend: false)).ToList() : [], line);
            default:
                return new ConfigValue(ConfigValueKind.Map, "", [], line);
        }
    }

    public static ConfigValue FromJson(JsonElement element, bool descend = true) => element.ValueKind switch
    {
        JsonValueKind.Null => Null(),
        JsonValueKind.String => String(element.GetString()!),
        JsonValueKind.Number => new ConfigValue(ConfigValueKind.Number, element.GetRawText(), [], null),
        JsonValueKind.True => new ConfigValue(ConfigValueKind.Bool, "true", [], null),
        JsonValueKind.False => new ConfigValue(ConfigValueKind.Bool, "false", [], null),
        JsonValueKind.Array => List(descend ? element.EnumerateArray().Select(e => FromJson(e, descend: false)).ToList() : []),
        _ => new ConfigValue(ConfigValueKind.Map, "", [], null),
    };
}
