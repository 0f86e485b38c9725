using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tuners.Combination;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.IA3;

/// <summary>
/// IA3's add_weighted_adapter, linear only (as PEFT): l = Σ wᵢ lᵢ at each module. An adapter that does not adapt a
/// module leaves it unchanged there, so it counts with lᵢ = 1 (the identity); PEFT 0.18.1 counts it as 0, which
/// with weights 0.5, 0.5 halves the output of every module only one of the adapters adapts.
/// </summary>
public sealed class IA3Combiner : IAdapterCombiner
{
    /// <summary>IA3's only rule: its vectors scale the base multiplicatively, so Σ wᵢlᵢ is what weighting them means (as in PEFT).</summary>
    public CombinationType WeightedMerge => CombinationType.Linear;

    public PeftConfig CombinedConfig(nn.Module root, IReadOnlyList<CombinationSource> sources, AdapterCombination combination)
    {
        if (combination.Type != CombinationType.Linear)
            throw new PeftException($"IA3 adapters combine linearly (l = Σ wᵢ lᵢ), as in PEFT: use --combination linear, not {CombinationTypes.NameOf(combination.Type)}");
        var configs = sources.Select(s => (s.Name, Config: (IA3Config)s.Config)).ToList();
        foreach (var (name, c) in configs)
            if (c.ModulesToSave is { Count: > 0 } m)
                throw new PeftException($"adapter \"{name}\" cannot be combined: it replaces whole modules (modules_to_save: {string.Join(", ", m)}), which cannot be weighted");
        var layers = Layers(root);
        var copy = IA3Config.Read(JsonConfig.Parse(configs[0].Config.ToJson(), "adapter config"));
        copy.InitIA3Weights = true;
        copy.Targets = TargetUnion.Of(layers.Select(l => (l.Path, (IAdapterLayer)l.Layer)), configs.Select(c => (c.Name, c.Config.Targets)).ToList());
        var names = sources.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        if (copy.Targets.TargetList != null && configs.All(c => c.Config.FeedforwardList != null))
            (copy.FeedforwardList, copy.FeedforwardRegex) = (configs.SelectMany(c => c.Config.FeedforwardList!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(), null);
        else if (copy.Targets.TargetRegex != null && configs.All(c => c.Config.FeedforwardRegex != null))
            (copy.FeedforwardList, copy.FeedforwardRegex) = (null, string.Join("|", configs.Select(c => $"({c.Config.FeedforwardRegex})")));
        else
            (copy.FeedforwardList, copy.FeedforwardRegex) = (layers.Where(l => l.Layer.IsFeedforward && l.Layer.AdapterNames.Any(names.Contains)).Select(l => l.Path).ToList(), null);
        return copy;
    }

    public void Fill(nn.Module root, string adapter, IReadOnlyList<CombinationSource> sources, AdapterCombination combination)
    {
        using var _ = no_grad();
        foreach (var (_, layer) in Layers(root))
        {
            if (!layer.AdapterNames.Contains(adapter)) continue;
            using var scope = NewDisposeScope();
            var target = layer.Vector(adapter);
            var sum = zeros_like(target, dtype: ScalarType.Float32);
            foreach (var s in sources)
                sum = layer.AdapterNames.Contains(s.Name) ? sum.add(layer.Vector(s.Name).detach().to(ScalarType.Float32), alpha: s.Weight) : sum.add(s.Weight);
            layer.SetVector(adapter, sum);
        }
    }

    private static List<(string Path, IA3Layer Layer)> Layers(nn.Module root) =>
        ModuleTree.NamedModules(root).Where(m => m.Module is IA3Layer).Select(m => (m.Name, (IA3Layer)m.Module)).ToList();
}
