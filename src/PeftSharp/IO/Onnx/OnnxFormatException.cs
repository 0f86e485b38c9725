namespace PeftSharp.IO.Onnx;

/// <summary>
/// An ONNX file that is not well-formed protobuf or not the ModelProto we expect. A separate type, like
/// <see cref="Safetensors.SafetensorsFormatException"/>, so tools can tell "this file is broken" from other user errors.
/// </summary>
public sealed class OnnxFormatException : PeftException
{
    public OnnxFormatException(string filePath, string problem) : base($"{filePath}: not a readable ONNX model: {problem}")
    {
        FilePath = filePath;
    }

    public string FilePath { get; }
}
