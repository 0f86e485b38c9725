using PeftSharp.IO;
using System.Text.RegularExpressions;
using PeftSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// Decides which modules of a tree an adapter wraps, exactly as PEFT's check_target_module_exists does,
/// and explains a target list that matches nothing by listing the closest module names.
/// </summary>
public static class TargetSelector
{
    /// <summary>Layer container names PEFT tries when layers_to_transform is given without layers_pattern.</summary>
    public static readonly IReadOnlyList<string> CommonLayerPatterns = ["layers", "h", "block", "blocks", "layer"];

    /// <summary>Names of the modules to wrap, in tree order. isCandidate says which module types the method can wrap.</summary>
    public static IReadOnlyList<string> Select(nn.Module root, TargetSpec spec, Func<nn.Module, bool> isCandidate,
        IReadOnlyCollection<string> modulesToSave)
    {
        var modules = ModuleTree.NamedModules(root).Where(m => m.Name.Length > 0).ToList();
        var selected = new List<string>();
        foreach (var (name, module) in modules)
        {
            if (!isCandidate(module)) continue;
            bool match = spec.IsAllLinear ? !IsOutputHead(root, name) && !IsSaved(name, modulesToSave) : Matches(name, spec.TargetRegex, spec.TargetList);
            if (!match || IsExcluded(name, spec) || !InLayers(name, spec)) continue;
            selected.Add(name);
        }
        if (selected.Count == 0)
            throw new PeftException(NothingMatched(spec, modules.Select(m => m.Name).ToList()));
        return selected;
    }

    public static bool Matches(string name, string? regex, IReadOnlyList<string>? list)
    {
        if (regex != null) return Regex.IsMatch(name, $"^(?:{regex})$", RegexOptions.CultureInvariant);
        return list != null && list.Any(t => name == t || name.EndsWith("." + t, StringComparison.Ordinal));
    }

    private static bool IsExcluded(string name, TargetSpec spec) =>
        (spec.ExcludeRegex != null || spec.ExcludeList != null) && Matches(name, spec.ExcludeRegex, spec.ExcludeList);

    private static bool InLayers(string name, TargetSpec spec)
    {
        if (spec.LayersToTransform is not { Count: > 0 } layers) return true;
        return LayerIndex(name, spec.LayersPattern) is { } index && layers.Contains(index);
    }

    /// <summary>
    /// The index of the layer of the transformer stack a module (or parameter) name lies in, as layers_to_transform reads
    /// it ("bert.encoder.layer.3.attention..." is in layer 3), or null for names outside the stack (embeddings, heads).
    /// </summary>
    public static int? LayerIndex(string name, IReadOnlyList<string>? layersPattern = null)
    {
        foreach (var pattern in layersPattern ?? CommonLayerPatterns)
        {
            var m = Regex.Match(name, $@"^.*\.{pattern}\.(\d+)\.", RegexOptions.CultureInvariant);
            if (m.Success && int.TryParse(m.Groups[1].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)) return index;
        }
        return null;
    }

    private static bool IsOutputHead(nn.Module root, string name) =>
        root is PretrainedModel p && p.OutputHeadName is { } head && name == head;

    private static bool IsSaved(string name, IReadOnlyCollection<string> modulesToSave) =>
        modulesToSave.Any(s => name == s || name.EndsWith("." + s, StringComparison.Ordinal));

    private static string NothingMatched(TargetSpec spec, List<string> names)
    {
        var wanted = spec.TargetRegex ?? string.Join(", ", spec.TargetList ?? []);
        var probes = spec.TargetList ?? (spec.TargetRegex != null ? [spec.TargetRegex] : []);
        var near = names
            .Select(n => (Name: n, Distance: probes.Count == 0 ? 0 : probes.Min(p => EditDistance.Levenshtein(n.Split('.')[^1], p.Split('.')[^1]))))
            .OrderBy(x => x.Distance).ThenBy(x => x.Name.Length)
            .Select(x => x.Name.Split('.')[^1]).Distinct().Take(8);
        return $"target modules [{wanted}] match no module of the model; module names end in for example: {string.Join(", ", near)}";
    }


    /// <summary>
    /// PEFT writes a resolved "all-linear" as the module names, shortened to the fewest name suffixes
    /// that select exactly them when there are 20 or more.
    /// </summary>
    public static IReadOnlyList<string> Resolved(IReadOnlyList<string> selected, IReadOnlyList<string> allNames)
    {
        if (selected.Count < 20) return selected;
        var chosen = new HashSet<string>(selected);
        var others = allNames.Where(n => !chosen.Contains(n)).ToList();
        var suffixes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var name in selected)
        {
            if (suffixes.Any(s => name == s || name.EndsWith("." + s, StringComparison.Ordinal))) continue;
            var parts = name.Split('.');
            for (int k = 1; k <= parts.Length; k++)
            {
                var suffix = string.Join('.', parts[^k..]);
                if (!others.Any(o => o == suffix || o.EndsWith("." + suffix, StringComparison.Ordinal))) { suffixes.Add(suffix); break; }
            }
        }
        return suffixes.ToList();
    }

    /// <summary>PEFT's rank_pattern/alpha_pattern lookup: the first key whose regex matches the end of the name.</summary>
    public static string? PatternKey(IEnumerable<string> keys, string name) =>
        keys.FirstOrDefault(k => Regex.IsMatch(name, $"^(?:.*\\.)?(?:{k})$", RegexOptions.CultureInvariant));
}
