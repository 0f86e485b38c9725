namespace PeftSharp.IO.Onnx;

/// <summary>
/// An ONNX ModelProto read without ONNX Runtime or a protobuf library: the graph's weights and wiring, which is
/// what converting an exported model into a Hugging Face checkpoint needs. The file is untrusted; every error names it.
/// </summary>
public sealed class OnnxModel
{
    /// <summary>Protobuf messages cannot exceed 2 GB; anything larger is not a single-file ONNX model.</summary>
    public const long MaxFileBytes = int.MaxValue;

    internal OnnxModel(long irVersion, string producerName, string producerVersion, IReadOnlyDictionary<string, long> opsets, OnnxGraph graph, string source)
    {
        IrVersion = irVersion;
        ProducerName = producerName;
        ProducerVersion = producerVersion;
        Opsets = opsets;
        Graph = graph;
        Source = source;
    }

    public long IrVersion { get; }
    public string ProducerName { get; }
    public string ProducerVersion { get; }
    /// <summary>Operator set versions by domain ("" is ai.onnx).</summary>
    public IReadOnlyDictionary<string, long> Opsets { get; }
    public OnnxGraph Graph { get; }
    public string Source { get; }

    public static OnnxModel Load(string path)
    {
        if (!File.Exists(path)) throw new PeftException($"{path}: file not found");
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new OnnxFormatException(path, $"{length} bytes is more than a protobuf message can hold");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses ModelProto bytes; tensors keep slices of <paramref name="bytes"/>, so keep it unchanged.</summary>
    public static OnnxModel Parse(ReadOnlyMemory<byte> bytes, string source) => OnnxParser.ParseModel(bytes, source);
}
