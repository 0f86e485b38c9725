using PeftSharp.Models;
using TorchSharp.Modules;

namespace PeftSharp.Tuners;

/// <summary>
/// The part of an adapter that no wrapper layer holds: tensors that act on the model's inputs rather than on a
/// layer's weights (prompt tuning's virtual-token embeddings, prefix tuning's per-layer keys and values). A tuner
/// creates it (<see cref="ITuner.CreateModelAdapter"/>); <see cref="PeftModel"/> owns it: saves and loads its
/// tensors, trains them while the adapter is active, installs <see cref="Hook"/> on the model only while the
/// adapter is active, and refuses to merge it (there is no weight to merge into). Disposing frees the tensors.
/// </summary>
public interface IModelAdapter : IDisposable
{
    /// <summary>The adapter's tensors under PEFT's saved key names, which carry no base_model prefix ("prompt_embeddings").</summary>
    IReadOnlyList<(string Key, Parameter Parameter)> Parameters { get; }

    /// <summary>What the adapter does to every forward pass of the model.</summary>
    IForwardHook Hook { get; }
}
