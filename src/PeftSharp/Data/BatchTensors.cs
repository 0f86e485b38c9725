using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Data;

/// <summary>
/// The tensors of one batch, owned together so that one dispose frees them all (ModelInputs itself is not disposable,
/// and a training loop that leaks a batch per step runs out of memory).
/// </summary>
public sealed class BatchTensors : IDisposable
{
    public BatchTensors(ModelInputs inputs, Tensor labels)
    {
        Inputs = inputs;
        Labels = labels;
    }

    public ModelInputs Inputs { get; }
    public Tensor Labels { get; }

    public void Dispose()
    {
        Inputs.InputIds?.Dispose();
        Inputs.AttentionMask?.Dispose();
        Inputs.DecoderInputIds?.Dispose();
        Labels.Dispose();
    }
}
