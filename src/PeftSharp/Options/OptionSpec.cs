using System.Globalization;

namespace PeftSharp.Options;

/// <summary>The value types an option can hold; everything a YAML/JSON scalar, a list of strings or a flag can say.</summary>
public enum OptionKind { Int, Long, Double, Bool, String, StringList }

/// <summary>
/// One training option, declared once: its config key (snake_case), the keys it is also known by, its command-line
/// flag, help line, type, default and allowed values or range, and whether it is a path. Config files, flags,
/// <c>--help</c>, validation, config.yaml and error messages are all derived from this, so they cannot disagree.
/// Core options are properties of TrainingOptions (see <see cref="OptionAttribute"/>); a method declares its own as
/// <see cref="MethodOption{T}"/> fields in its folder, so adding a method adds its options without touching training.
/// </summary>
public abstract class OptionSpec
{
    protected OptionSpec(string key, OptionKind kind, bool nullable, object? defaultValue, OptionAttribute declaration)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(key, "^[a-z][a-z0-9_]*$"))
            throw new ArgumentException($"option key \"{key}\" must be snake_case");
        if (string.IsNullOrWhiteSpace(declaration.Help)) throw new ArgumentException($"option \"{key}\" needs a help line");
        Key = key;
        Kind = kind;
        Nullable = nullable;
        Default = defaultValue;
        Declaration = declaration;
        _choices = new(() => declaration.ChoicesFrom is { } t ? (IChoices)Activator.CreateInstance(t)! : null);
    }

    /// <summary>The config-file key, e.g. learning_rate.</summary>
    public string Key { get; }
    /// <summary>The command-line flag without dashes, e.g. learning-rate.</summary>
    public string Flag => Key.Replace('_', '-');
    public OptionKind Kind { get; }
    public bool Nullable { get; }
    public object? Default { get; }
    protected OptionAttribute Declaration { get; }

    public string Help => Declaration.Help;
    /// <summary>Older or alternative keys accepted in files and as flags (lora_r for rank).</summary>
    public IReadOnlyList<string> Aliases => Declaration.Aliases;
    /// <summary>Extra command-line spellings, with their dashes ("--data", "-o").</summary>
    public IReadOnlyList<string> ShortFlags => Declaration.ShortFlags;
    /// <summary>Relative paths in a config file are relative to the file's folder.</summary>
    public bool IsPath => Declaration.IsPath;
    /// <summary>Whether a resumed run may give another value (see <see cref="OptionAttribute.MayChangeOnResume"/>).</summary>
    public bool MayChangeOnResume => Declaration.MayChangeOnResume;
    /// <summary>The method this option belongs to (its CLI name), or null for an option of every run.</summary>
    public virtual string? Method => null;
    /// <summary>Whether the option belongs to this method (one option may be shared by a family, such as num_virtual_tokens).</summary>
    public virtual bool AppliesTo(string method) => Method == method;

    /// <summary>The values a string option may take, or null for any.</summary>
    public IReadOnlyList<string>? Choices => _choices.Value?.Values ?? (Declaration.Choices.Length > 0 ? Declaration.Choices : null);

    private readonly Lazy<IChoices?> _choices;

    /// <summary>What the value must be, for error messages.</summary>
    public string TypeName
    {
        get
        {
            var name = Kind switch
            {
                OptionKind.StringList => "a list of strings (or one string)",
                OptionKind.Int or OptionKind.Long => "an integer",
                OptionKind.Double => "a number",
                OptionKind.Bool => "true or false",
                _ => "a string",
            };
            return Nullable ? name + " or null" : name;
        }
    }

    /// <summary>The help line as <c>--help</c> shows it: the help, the choices or range, and the default.</summary>
    public string HelpLine
    {
        get
        {
            var parts = new List<string> { Help };
            if (Choices is { } c) parts.Add("one of " + string.Join(", ", c));
            if (RangeText() is { } r) parts.Add(r);
            // Every option says its default; an unset one whose help already says what unset means ("default: the
            // method's") is not told twice.
            if (!Help.Contains("default", StringComparison.Ordinal)) parts.Add("default " + ShowDefault(Default));
            return string.Join("; ", parts);
        }
    }

    /// <summary>A default as help shows it: switches on/off, unset as none, small numbers as 2e-4.</summary>
    private static string ShowDefault(object? value) => value switch
    {
        null or "" => "none",
        bool b => b ? "on" : "off",
        double d => NumberText.Value(d),
        IReadOnlyList<string> { Count: 0 } => "none",
        _ => Show(value),
    };

    /// <summary>A value as config.yaml and help texts show it.</summary>
    public static string Show(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IReadOnlyList<string> list => "[" + string.Join(", ", list) + "]",
        string s => s.Length == 0 ? "\"\"" : s,
        _ => System.Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>Converts a value for this option; <paramref name="where"/> names the file, line and key for errors.</summary>
    public object? Convert(ConfigValue value, string where) => OptionConversion.Convert(this, value, where);

    /// <summary>What is wrong with a value of this option (out of range, not a choice, a method's own check); empty when fine.</summary>
    public IEnumerable<string> Problems(object? value)
    {
        if (value is null) yield break;
        if (Choices is { } choices && value is string s && !choices.Contains(s))
            yield return $"{Key} \"{s}\" is not one of {string.Join(", ", choices)}";
        if (value is IReadOnlyList<string> list && Declaration.NoEmptyItems && list.Any(string.IsNullOrWhiteSpace))
            yield return $"{Key} must not contain empty names";
        if (OutOfRange(value) && RangeText() is { } range)
            yield return $"{Key} must be {range}, got {Show(value)}";
        if (Check(value) is { } problem) yield return problem;
    }

    /// <summary>The kind of a CLR value type an option may have; anything else is a declaration mistake.</summary>
    protected static OptionKind KindOf(Type type)
    {
        type = System.Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int)) return OptionKind.Int;
        if (type == typeof(long)) return OptionKind.Long;
        if (type == typeof(double)) return OptionKind.Double;
        if (type == typeof(bool)) return OptionKind.Bool;
        if (type == typeof(string)) return OptionKind.String;
        if (type == typeof(IReadOnlyList<string>)) return OptionKind.StringList;
        throw new ArgumentException($"type {type} cannot be an option (int, long, double, bool, string or IReadOnlyList<string>)");
    }

    /// <summary>A method's own rule for a value (e.g. init_lora_weights' spellings); null when fine.</summary>
    protected virtual string? Check(object? value) => null;

    private bool OutOfRange(object? value)
    {
        double? x = value switch { int i => i, long l => l, double n => n, _ => null };
        if (x is not { } v) return false;
        var d = Declaration;
        if (!double.IsNaN(d.Min) && (d.MinExclusive ? v <= d.Min : v < d.Min)) return true;
        if (!double.IsNaN(d.Max) && (d.MaxExclusive ? v >= d.Max : v > d.Max)) return true;
        return false;
    }

    /// <summary>"at least 1", "greater than 0", "in [0, 1)", with the note on special values ("0 = off").</summary>
    private string? RangeText()
    {
        var d = Declaration;
        string N(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        string? text = (double.IsNaN(d.Min), double.IsNaN(d.Max)) switch
        {
            (false, false) => $"in {(d.MinExclusive ? "(" : "[")}{N(d.Min)}, {N(d.Max)}{(d.MaxExclusive ? ")" : "]")}",
            (false, true) => d.MinExclusive ? $"greater than {N(d.Min)}" : $"at least {N(d.Min)}",
            (true, false) => d.MaxExclusive ? $"less than {N(d.Max)}" : $"at most {N(d.Max)}",
            _ => null,
        };
        return text is null ? null : d.RangeNote is { } note ? $"{text} ({note})" : text;
    }
}

/// <summary>An option whose allowed values are known only at run time (the registered methods).</summary>
public interface IChoices
{
    IReadOnlyList<string> Values { get; }
}
