using TorchSharp;

namespace PeftSharp.Tuners.Combination;

/// <summary>One adapter to combine: its name in the model and its config.</summary>
public sealed record CombinationSource(string Name, PeftConfig Config, double Weight);

/// <summary>
/// A method whose adapters can be combined into a new one (PEFT's add_weighted_adapter), found through
/// <see cref="ITuner.Combiner"/>. <see cref="PeftModel.AddWeightedAdapter(IReadOnlyList{string}, IReadOnlyList{double}, string, AdapterCombination)"/> asks for the new config first (which
/// refuses, before anything changes, whatever the sources cannot give), injects the new adapter with it, and then asks
/// for its tensors to be filled in; a failure there removes the new adapter again.
/// </summary>
public interface IAdapterCombiner
{
    /// <summary>
    /// The type a weighted merge into the base uses (<c>peft merge --weights</c>): the one whose result changes each
    /// module by Σ wᵢ·(adapter i's change) exactly where the method has such a type (LoRA: cat), else the method's own rule (IA3: linear).
    /// </summary>
    CombinationType WeightedMerge { get; }

    /// <summary>The new adapter's config; throws a <see cref="PeftException"/> naming the adapter and the reason when the sources cannot be combined so.</summary>
    PeftConfig CombinedConfig(torch.nn.Module root, IReadOnlyList<CombinationSource> sources, AdapterCombination combination);

    /// <summary>Writes the combination into <paramref name="adapter"/>'s tensors, which were injected with <see cref="CombinedConfig"/>'s config.</summary>
    void Fill(torch.nn.Module root, string adapter, IReadOnlyList<CombinationSource> sources, AdapterCombination combination);
}
