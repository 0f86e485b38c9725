namespace PeftSharp.Tuners.Combination;

/// <summary>The target_modules of a combination: the union of its sources' targets.</summary>
public static class TargetUnion
{
    /// <summary>
    /// Lists united (as PEFT, sorted), regular expressions joined with | (as PEFT); for any other mix, or when a source
    /// excludes modules or selects layers, the exact names of the modules that hold one of the sources (PEFT refuses
    /// a mix of lists and expressions).
    /// </summary>
    public static TargetSpec Of(IEnumerable<(string Path, IAdapterLayer Layer)> layers, IReadOnlyList<(string Name, TargetSpec Targets)> sources)
    {
        var specs = sources.Select(s => s.Targets).ToList();
        bool plain = specs.All(t => t.ExcludeList == null && t.ExcludeRegex == null && t.LayersToTransform == null);
        if (plain && specs.All(t => t.TargetList != null && !t.IsAllLinear))
            return new TargetSpec { TargetList = specs.SelectMany(t => t.TargetList!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList() };
        if (plain && specs.All(t => t.TargetRegex != null && !t.IsAllLinear))
            return new TargetSpec { TargetRegex = string.Join("|", specs.Select(t => $"({t.TargetRegex})")) };
        var names = sources.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        return new TargetSpec { TargetList = layers.Where(l => l.Layer.AdapterNames.Any(names.Contains)).Select(l => l.Path).ToList() };
    }
}
