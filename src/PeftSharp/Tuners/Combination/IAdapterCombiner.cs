using TorchSharp;

namespace PeftSharp.Tuners.Combination;

/// <summary>One adapter to combine: its name in the model and its config.</summary>
public sealed record CombinationSource(string Name, PeftConfig Config, double Weight);

/// <summary>
/// A method whose adapters can be combined into a new one (PEFT's add_weighted_adapter), found through
/// <see cref="ITuner.Combiner"/>. <see cref="PeftModel.AddWeightedAdapter"/> asks for the new config first (which
/// refuses, before anything changes, whatever the sources cannot give), injects the new adapter with it, and then asks
/// for its tensors to be filled in; a failure there removes the new adapter again.
/// </summary>
public interface IAdapterCombiner
{
    /// <summary>The new adapter's config; throws a <see cref="PeftException"/> naming the adapter and the reason when the sources cannot be combined so.</summary>
    PeftConfig CombinedConfig(torch.nn.Module root, IReadOnlyList<CombinationSource> sources, AdapterCombination combination);

    /// <summary>Writes the combination into <paramref name="adapter"/>'s tensors, which were injected with <see cref="CombinedConfig"/>'s config.</summary>
    void Fill(torch.nn.Module root, string adapter, IReadOnlyList<CombinationSource> sources, AdapterCombination combination);
}
