using System.Globalization;
using System.Reflection;
using System.Text;

namespace PeftSharp.Training;

/// <summary>
/// One settable property of <see cref="TrainingOptions"/>, found by reflection, with its file key (snake_case), its
/// flag (kebab-case) and the conversion from a <see cref="ConfigValue"/>. Reflection rather than a hand-written
/// list so that adding an option to TrainingOptions is all it takes to make it readable from files and flags.
/// </summary>
internal sealed class OptionField
{
    /// <summary>Keys spelled as Hugging Face PEFT spells them rather than by the mechanical rule (use_rs_lora).</summary>
    private static readonly Dictionary<string, string> KeyExceptions = new() { [nameof(TrainingOptions.UseRsLora)] = "use_rslora" };

    private OptionField(PropertyInfo property, Type type, bool nullable, bool isList)
    {
        Property = property;
        Type = type;
        Nullable = nullable;
        IsList = isList;
        Key = KeyExceptions.TryGetValue(property.Name, out var key) ? key : SnakeCase(property.Name);
        Flag = Key.Replace('_', '-');
    }

    public PropertyInfo Property { get; }
    /// <summary>The value type: int, long, double, bool or string (the item type for lists).</summary>
    public Type Type { get; }
    public bool Nullable { get; }
    public bool IsList { get; }
    public string Key { get; }
    public string Flag { get; }

    public static IReadOnlyList<OptionField> All { get; } = Discover();

    public static IReadOnlyDictionary<string, OptionField> ByKey { get; } = All.ToDictionary(f => f.Key, StringComparer.Ordinal);

    public static OptionField Of(string propertyName) => All.Single(f => f.Property.Name == propertyName);

    /// <summary>What the value must be, for error messages.</summary>
    public string TypeName
    {
        get
        {
            var name = IsList ? "a list of strings (or one string)"
                : Type == typeof(int) || Type == typeof(long) ? "an integer"
                : Type == typeof(double) ? "a number"
                : Type == typeof(bool) ? "true or false"
                : "a string";
            return Nullable ? name + " or null" : name;
        }
    }

    public object? Get(TrainingOptions options) => Property.GetValue(options);

    /// <summary>Sets the property on a fresh copy that nobody else has seen yet (init setters are ordinary setters to reflection).</summary>
    public void SetOnCopy(TrainingOptions copy, object? value) => Property.SetValue(copy, value);

    /// <summary>Converts a value for this option; <paramref name="where"/> names the file, line and key for errors.</summary>
    public object? Convert(ConfigValue value, string where)
    {
        if (value.Kind == ConfigValueKind.Null)
            return Nullable ? null : throw new PeftException($"{where} must be {TypeName}, got null");
        if (IsList)
        {
            if (value.Kind == ConfigValueKind.Map) throw Wrong(value, where);
            if (value.Kind != ConfigValueKind.List) return new List<string> { Text(value, where) };
            return value.Items.Select((item, i) => Text(item, $"{where}[{i}]")).ToList();
        }
        if (value.Kind is ConfigValueKind.List or ConfigValueKind.Map) throw Wrong(value, where);
        if (Type == typeof(string)) return Text(value, where);
        if (Type == typeof(bool))
        {
            if (value.Kind is ConfigValueKind.Bool or ConfigValueKind.Plain)
            {
                if (value.Text.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
                if (value.Text.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
            }
            throw Wrong(value, where);
        }
        if (value.Kind is not (ConfigValueKind.Plain or ConfigValueKind.Number)) throw Wrong(value, where);
        var text = value.Text.Trim();
        if (Type == typeof(double))
        {
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
            throw Wrong(value, where);
        }
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)
            || double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var whole) && whole == Math.Floor(whole)
                && Math.Abs(whole) < 9e15 && (l = (long)whole) == whole)
        {
            if (Type == typeof(long)) return l;
            if (l is >= int.MinValue and <= int.MaxValue) return (int)l;
        }
        throw Wrong(value, where);
    }

    private static string Text(ConfigValue value, string where) => value.Kind is ConfigValueKind.String or ConfigValueKind.Plain
        or ConfigValueKind.Number or ConfigValueKind.Bool ? value.Text : throw new PeftException($"{where} must be a string, got {value.Describe()}");

    private PeftException Wrong(ConfigValue value, string where) => new($"{where} must be {TypeName}, got {value.Describe()}");

    /// <summary>LearningRate → learning_rate, Beta1 → beta1.</summary>
    public static string SnakeCase(string name)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1])
                || i + 1 < name.Length && char.IsUpper(name[i - 1]) && char.IsLower(name[i + 1])))
                sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    private static List<OptionField> Discover()
    {
        var nullability = new NullabilityInfoContext();
        var fields = new List<OptionField>();
        foreach (var p in typeof(TrainingOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.SetMethod is not { IsPublic: true } || p.GetIndexParameters().Length > 0) continue;
            var type = p.PropertyType;
            bool nullable;
            if (System.Nullable.GetUnderlyingType(type) is { } inner)
            {
                type = inner;
                nullable = true;
            }
            else nullable = !type.IsValueType && nullability.Create(p).WriteState == NullabilityState.Nullable;
            bool isList = type == typeof(IReadOnlyList<string>);
            if (!isList && type != typeof(int) && type != typeof(long) && type != typeof(double) && type != typeof(bool) && type != typeof(string))
                throw new InvalidOperationException($"TrainingOptions.{p.Name}: type {type} cannot be read from a config file; teach OptionField about it");
            fields.Add(new OptionField(p, isList ? typeof(string) : type, nullable, isList));
        }
        return fields;
    }
}
