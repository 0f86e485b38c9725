using PeftSharp.Options;
using PeftSharp.Tuners;

namespace PeftSharp.Training;

/// <summary>
/// Every training option: the core ones (properties of <see cref="TrainingOptions"/>) and every registered method's own.
/// Config files, flags, <c>--help</c>, validation and config.yaml all read this list, so an option declared anywhere is
/// known everywhere.
/// </summary>
public static class TrainingSchema
{
    public static IReadOnlyList<PropertyOption> Core { get; } = PropertyOption.Of<TrainingOptions>();

    /// <summary>Core options in declaration order, then each method's in registry order.</summary>
    public static IReadOnlyList<OptionSpec> All { get; } =
        Core.Cast<OptionSpec>().Concat(TunerRegistry.All.SelectMany(t => t.Description.Options)).Distinct().ToList(); // a shared option is listed by each of its methods

    /// <summary>Every key and alias to its option.</summary>
    public static IReadOnlyDictionary<string, OptionSpec> ByKey { get; } = BuildIndex();

    public static PropertyOption Of(string propertyName) => Core.Single(f => f.Property.Name == propertyName);

    /// <summary>The value an option has in these options: the property, or the method option's value or default.</summary>
    public static object? Get(TrainingOptions options, OptionSpec spec) => spec switch
    {
        PropertyOption p => p.Get(options),
        _ => options.MethodOptions.TryGet(spec.Key, out var v) ? v : spec.Default,
    };

    /// <summary>A copy with one option set.</summary>
    public static TrainingOptions Set(TrainingOptions options, OptionSpec spec, object? value)
    {
        if (spec is not PropertyOption p) return options with { MethodOptions = options.MethodOptions.With(spec.Key, value) };
        var copy = options with { };
        p.SetOnCopy(copy, value);
        return copy;
    }

    /// <summary>The options that describe the run: the core ones and those of the chosen method (plus any other given, so nothing set is lost).</summary>
    public static IEnumerable<OptionSpec> Relevant(TrainingOptions options) =>
        All.Where(s => s.Method is null || s.AppliesTo(options.Method) || options.MethodOptions.TryGet(s.Key, out _));

    private static Dictionary<string, OptionSpec> BuildIndex()
    {
        var index = new Dictionary<string, OptionSpec>(StringComparer.Ordinal);
        foreach (var spec in All)
            foreach (var key in spec.Aliases.Prepend(spec.Key))
                if (!index.TryAdd(key, spec))
                    throw new InvalidOperationException($"option key \"{key}\" is declared twice ({index[key].Method ?? "core"} and {spec.Method ?? "core"})");
        return index;
    }
}
