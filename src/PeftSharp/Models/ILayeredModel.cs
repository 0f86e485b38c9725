using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// A decoder whose forward pass is "prepare, then N layers, then finish", exposed so that training can keep
/// only each layer's input and recompute the layer during backward (gradient checkpointing) without knowing
/// the architecture. The models' own forward runs through the same pass, so there is one code path.
/// </summary>
public interface ILayeredModel
{
    LayerPass BeginLayers(ModelInputs inputs);
}

/// <summary>One forward pass, split at layer boundaries; the shared context (mask, rotary angles) is captured.</summary>
public sealed class LayerPass
{
    /// <summary>The input of layer 0 (embeddings).</summary>
    public required Tensor Hidden { get; init; }
    public required int Count { get; init; }
    /// <summary>Applies layer i to a hidden state.</summary>
    public required Func<int, Tensor, Tensor> Layer { get; init; }
    /// <summary>After the last layer: the final norm (and any scaling), giving what the head reads.</summary>
    public required Func<Tensor, Tensor> Finish { get; init; }

    public Tensor Run()
    {
        var hidden = Hidden;
        for (int i = 0; i < Count; i++) hidden = Layer(i, hidden);
        return Finish(hidden);
    }
}
