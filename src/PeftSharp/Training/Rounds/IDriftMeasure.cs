using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// One way to tell how far a model has moved from the original on general text. <see cref="Reference"/> is measured
/// once on the original (adapters disabled) and kept in the run folder; <see cref="Compare"/> measures the model as it is
/// now against it. Zero drift (an adapter whose update is zero) gives exactly the reference's values.
/// </summary>
public interface IDriftMeasure
{
    /// <summary>What the original produces on the texts, as named tensors (saved in forgetting-reference.safetensors).</summary>
    Dictionary<string, Tensor> Reference();

    /// <summary>The drift metrics of the model now against <paramref name="reference"/>.</summary>
    Dictionary<string, double> Compare(IReadOnlyDictionary<string, Tensor> reference);
}
