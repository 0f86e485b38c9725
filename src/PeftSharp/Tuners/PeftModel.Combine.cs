using PeftSharp.Tuners.Combination;

namespace PeftSharp.Tuners;

public sealed partial class PeftModel
{
    /// <summary>
    /// Adds adapter <paramref name="name"/>, the combination of existing adapters with the given weights (PEFT's
    /// add_weighted_adapter: negative weights subtract, e.g. task negation). The method's <see cref="IAdapterCombiner"/>
    /// does the arithmetic (LoRA: eleven types; IA3: linear); the new adapter is neither active nor trainable, like
    /// PEFT's. Every check runs before anything changes, and a failure while filling it in removes it again, so a
    /// refused combination leaves the model as it was. Unlike PEFT, an existing name is refused (PEFT returns silently).
    /// </summary>
    public void AddWeightedAdapter(IReadOnlyList<string> adapters, IReadOnlyList<double> weights, string name, AdapterCombination combination)
    {
        ArgumentNullException.ThrowIfNull(adapters);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(combination);
        combination.Validate(adapters.Count, weights.Count);
        if (_configs.ContainsKey(name)) throw new PeftException($"adapter \"{name}\" already exists: give the combination a new name");
        var combiner = CombinerOf(adapters);
        foreach (var w in weights)
            if (!double.IsFinite(w)) throw new PeftException($"combination weights must be finite numbers, got {w}");
        var sources = adapters.Select((a, i) => new CombinationSource(a, _configs[a], weights[i])).ToList();
        var config = combiner.CombinedConfig(Model, sources, combination);
        Add(name, config);
        try
        {
            combiner.Fill(Model, name, sources, combination);
        }
        catch
        {
            DeleteAdapter(name);
            throw;
        }
    }

    /// <summary>
    /// Adds <paramref name="name"/>, the weighted sum of the adapters by their method's <see cref="IAdapterCombiner.WeightedMerge"/>
    /// type (LoRA: cat, which changes each module by exactly Σ wᵢ ΔWᵢ): what <c>peft merge --weights</c> folds into the base.
    /// </summary>
    public void AddWeightedAdapter(IReadOnlyList<string> adapters, IReadOnlyList<double> weights, string name) =>
        AddWeightedAdapter(adapters, weights, name, new AdapterCombination(CombinerOf(adapters).WeightedMerge));

    /// <summary>The one combiner of the adapters' method; refuses unknown adapters, mixed methods and methods that cannot combine.</summary>
    private IAdapterCombiner CombinerOf(IReadOnlyList<string> adapters)
    {
        ArgumentNullException.ThrowIfNull(adapters);
        if (adapters.Count == 0) throw new PeftException("give at least one adapter to combine");
        foreach (var a in adapters)
            if (!_configs.ContainsKey(a)) throw new PeftException($"no adapter \"{a}\" to combine (loaded: {string.Join(", ", _configs.Keys)})");
        var types = adapters.Select(a => _configs[a].PeftType).Distinct(StringComparer.Ordinal).ToList();
        if (types.Count > 1)
            throw new PeftException($"adapters of different methods cannot be combined ({string.Join(", ", adapters.Select(a => $"\"{a}\" is {_configs[a].PeftType}"))})");
        var tuner = TunerRegistry.For(types[0]);
        return tuner.Combiner ?? throw new PeftException(
            $"{tuner.Description.Title} adapters cannot be combined; combining is implemented for {string.Join(" and ", TunerRegistry.All.Where(t => t.Combiner != null).Select(t => t.Description.Title))} (as in PEFT)");
    }
}
