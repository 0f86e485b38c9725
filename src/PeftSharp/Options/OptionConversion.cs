using System.Globalization;

namespace PeftSharp.Options;

/// <summary>
/// A <see cref="ConfigValue"/> (YAML, JSON or a flag) to the option's type. One place, so a value that one source
/// accepts the others accept too: a YAML plain scalar is typed by the option, a quoted or JSON string stays a string.
/// </summary>
internal static class OptionConversion
{
    public static object? Convert(OptionSpec option, ConfigValue value, string where)
    {
        if (value.Kind == ConfigValueKind.Null)
            return option.Nullable ? null : throw new PeftException($"{where} must be {option.TypeName}, got null");
        if (option.Kind == OptionKind.StringList)
        {
            if (value.Kind == ConfigValueKind.Map) throw Wrong(option, value, where);
            if (value.Kind != ConfigValueKind.List) return new List<string> { Text(value, where) };
            return value.Items.Select((item, i) => Text(item, $"{where}[{i}]")).ToList();
        }
        if (value.Kind is ConfigValueKind.List or ConfigValueKind.Map) throw Wrong(option, value, where);
        switch (option.Kind)
        {
            case OptionKind.String:
                return Text(value, where);
            case OptionKind.Bool:
                if (value.Kind is ConfigValueKind.Bool or ConfigValueKind.Plain)
                {
                    if (value.Text.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
                    if (value.Text.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
                }
                throw Wrong(option, value, where);
        }
        if (value.Kind is not (ConfigValueKind.Plain or ConfigValueKind.Number)) throw Wrong(option, value, where);
        var text = value.Text.Trim();
        if (option.Kind == OptionKind.Double)
        {
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
            throw Wrong(option, value, where);
        }
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)
            || double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var whole) && whole == Math.Floor(whole)
                && Math.Abs(whole) < 9e15 && (l = (long)whole) == whole)
        {
            if (option.Kind == OptionKind.Long) return l;
            if (l is >= int.MinValue and <= int.MaxValue) return (int)l;
        }
        throw Wrong(option, value, where);
    }

    /// <summary>A command-line flag's text as a config value: "" or null unset a nullable option, a bare switch means true, lists are comma-separated.</summary>
    public static ConfigValue FromFlag(OptionSpec option, string text)
    {
        if (option.Nullable && (text.Length == 0 || text == "null")) return ConfigValue.Null();
        return option.Kind switch
        {
            OptionKind.StringList => ConfigValue.List(text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(s => ConfigValue.String(s)).ToList()),
            OptionKind.String => ConfigValue.String(text),
            OptionKind.Bool when text.Length == 0 => ConfigValue.Plain("true"),
            _ => ConfigValue.Plain(text),
        };
    }

    private static string Text(ConfigValue value, string where) => value.Kind is ConfigValueKind.String or ConfigValueKind.Plain
        or ConfigValueKind.Number or ConfigValueKind.Bool ? value.Text : throw new PeftException($"{where} must be a string, got {value.Describe()}");

    private static PeftException Wrong(OptionSpec option, ConfigValue value, string where) => new($"{where} must be {option.TypeName}, got {value.Describe()}");
}
