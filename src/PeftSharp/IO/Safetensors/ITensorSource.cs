using TorchSharp;

namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Named tensors that can be inspected without reading their data and loaded one at a time. Shared by a
/// single file and a sharded checkpoint so that model-loading code does not care which one it has.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Tensor names, in file order.</summary>
    IEnumerable<string> Keys { get; }

    bool Contains(string name);

    /// <summary>Throws <see cref="PeftException"/> naming the file and the missing key, with the closest keys.</summary>
    TensorEntry GetEntry(string name);

    bool TryGetEntry(string name, out TensorEntry entry);

    /// <summary>Reads one tensor into a new CPU tensor, then converts it to <paramref name="dtype"/> and moves it to <paramref name="device"/> if given.</summary>
    torch.Tensor Load(string name, torch.Device? device = null, torch.ScalarType? dtype = null);

    /// <summary>Every tensor, in file order. On failure nothing loaded so far is left undisposed.</summary>
    Dictionary<string, torch.Tensor> LoadAll(torch.Device? device = null, torch.ScalarType? dtype = null);
}
