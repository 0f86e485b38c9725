using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// Implemented by layers whose adapter uses tensors shared by all layers (VeRA's random projections). PEFT saves
/// them once under "base_model.&lt;name&gt;"; PeftModel collects them here for saving and loading.
/// </summary>
public interface ISharedAdapterTensors
{
    IEnumerable<(string Name, Tensor Tensor)> SharedTensors(string adapter);
}
