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

    /// <summary>
    /// The whole pass. Each layer runs in its own dispose scope that keeps only the layer's output: autograd holds its
    /// own references to what backward needs, so the other intermediates (a layer's MLP and attention tensors the graph
    /// does not save) are freed as the pass goes instead of when the caller's scope ends, as PyTorch frees them.
    /// </summary>
    public Tensor Run()
    {
        var hidden = Hidden;
        for (int i = 0; i < Count; i++) hidden = ScopedLayer(i, hidden);
        return Finish(hidden);
    }

    /// <summary>Layer i in a dispose scope of its own (see <see cref="Run"/>); the result is moved to the caller's scope.</summary>
    public Tensor ScopedLayer(int i, Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return Layer(i, hidden).MoveToOuterDisposeScope();
    }
}
