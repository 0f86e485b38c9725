using PeftSharp.Models;
using PeftSharp.Models.Quantization;
using static TorchSharp.torch;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// The --model folder of a command, loaded with its warnings on stderr: a task head the checkpoint lacks
/// (bert-base-uncased under a classification config) is named there and the command goes on; any other
/// missing tensor stays the loader's one-line error.
/// </summary>
public static class BaseModelLoading
{
    public static PretrainedModel Load(string modelDir, Device? device = null, ScalarType dtype = ScalarType.Float32, QuantizationConfig? quantization = null) =>
        AutoModel.FromPretrained(modelDir, device, dtype, warn: Warn, quantization: quantization);

    /// <summary>The folder as a sequence classifier with <paramref name="labels"/> outputs (a new head unless it has a matching one).</summary>
    public static PretrainedModel LoadClassifier(string modelDir, int labels, string pooling, Device? device = null, QuantizationConfig? quantization = null) =>
        AutoModel.ForSequenceClassification(modelDir, labels, pooling, device, warn: Warn, quantization: quantization);

    /// <summary>How every command prints a warning: one line on stderr.</summary>
    public static void Warn(string message) => Console.Error.WriteLine($"peft: warning: {message}");
}
