using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace PeftSharp.Models.Import;

/// <summary>
/// A model converted from another format, held in memory as what a Hugging Face folder stores: the config.json
/// object and the tensors under transformers' names. Owns the tensors.
/// </summary>
public sealed class ImportedCheckpoint : IDisposable
{
    public ImportedCheckpoint(JsonObject config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        Config = config;
        Tensors = tensors;
    }

    public JsonObject Config { get; }
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    public long ParameterCount => Tensors.Values.Sum(t => t.numel());

    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}
