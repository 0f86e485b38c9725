namespace PeftSharp.IO.Safetensors;

/// <summary>
/// A safetensors file (or a sharded checkpoint's index) that is malformed or inconsistent. A separate type so
/// callers can tell "this file is broken" from other user errors, and so that FilePath/TensorName are
/// available to tools without parsing the message.
/// </summary>
public sealed class SafetensorsFormatException : PeftException
{
    public SafetensorsFormatException(string filePath, string? tensorName, string problem)
        : base(Format(filePath, tensorName, problem))
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    public SafetensorsFormatException(string filePath, string? tensorName, string problem, Exception inner)
        : base(Format(filePath, tensorName, problem), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    public string FilePath { get; }

    /// <summary>The tensor (or index key) concerned, when the problem is about one.</summary>
    public string? TensorName { get; }

    private static string Format(string filePath, string? tensorName, string problem) =>
        tensorName == null ? $"{filePath}: {problem}" : $"{filePath}: tensor '{tensorName}': {problem}";
}
