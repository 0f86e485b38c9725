using System.Reflection;

namespace PeftSharp.Options;

/// <summary>
/// A core option: a property of an options record declared with <see cref="OptionAttribute"/>. The key is the property
/// name in snake_case (unless the attribute names one), the type and nullability are the property's, and the default is
/// what a fresh record holds, so the record's initialisers stay the one place defaults are written.
/// </summary>
public sealed class PropertyOption : OptionSpec
{
    private PropertyOption(PropertyInfo property, OptionKind kind, bool nullable, object? defaultValue, OptionAttribute declaration)
        : base(declaration.Key ?? SnakeCase(property.Name), kind, nullable, defaultValue, declaration)
    {
        Property = property;
    }

    public PropertyInfo Property { get; }

    public object? Get(object options) => Property.GetValue(options);

    /// <summary>Sets the property on a fresh copy that nobody else has seen yet (init setters are ordinary setters to reflection).</summary>
    public void SetOnCopy(object copy, object? value) => Property.SetValue(copy, value);

    /// <summary>Every property of <typeparamref name="TOptions"/> with an [Option], in declaration order; any other settable
    /// property of an option type is a mistake (an option without help), so it throws.</summary>
    public static IReadOnlyList<PropertyOption> Of<TOptions>() where TOptions : new()
    {
        var fresh = new TOptions();
        var nullability = new NullabilityInfoContext();
        var result = new List<PropertyOption>();
        foreach (var p in typeof(TOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.MetadataToken))
        {
            if (p.SetMethod is not { IsPublic: true } || p.GetIndexParameters().Length > 0 || p.PropertyType == typeof(OptionValues)) continue;
            var declaration = p.GetCustomAttribute<OptionAttribute>()
                ?? throw new InvalidOperationException($"{typeof(TOptions).Name}.{p.Name} has no [Option(help)]: every option is declared with its help line");
            var type = System.Nullable.GetUnderlyingType(p.PropertyType);
            bool nullable = type != null || !p.PropertyType.IsValueType && nullability.Create(p).WriteState == NullabilityState.Nullable;
            result.Add(new PropertyOption(p, KindOf(type ?? p.PropertyType), nullable, p.GetValue(fresh), declaration));
        }
        return result;
    }

    /// <summary>LearningRate → learning_rate, Beta1 → beta1.</summary>
    public static string SnakeCase(string name)
    {
        var sb = new System.Text.StringBuilder();
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
}
