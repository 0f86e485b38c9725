using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PeftSharp.IO.Onnx;

/// <summary>
/// One ONNX TensorProto (an initializer or a Constant's value): its name, shape and element type, with the data
/// left as a slice of the file until asked for, so listing a 90 MB model's initializers copies nothing.
/// Only float32 and int64 values can be read; that is all importing a checkpoint needs.
/// </summary>
public sealed class OnnxTensor
{
    /// <summary>onnx.TensorProto.DataType values that PeftSharp reads.</summary>
    public const int Float = 1, Int64 = 7;

    private readonly ReadOnlyMemory<byte> _raw;
    private readonly float[]? _floats;
    private readonly long[]? _int64s;

    internal OnnxTensor(string name, long[] dims, int dataType, ReadOnlyMemory<byte> raw, float[]? floats, long[]? int64s, string source)
    {
        Name = name;
        Dims = dims;
        DataType = dataType;
        Source = source;
        _raw = raw;
        _floats = floats;
        _int64s = int64s;
        long count = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new OnnxFormatException(source, $"tensor '{name}' has a negative dimension {d}");
            count = d == 0 ? 0 : count > long.MaxValue / d ? throw new OnnxFormatException(source, $"tensor '{name}' has too many elements") : count * d;
        }
        ElementCount = count;
    }

    public string Name { get; }
    public IReadOnlyList<long> Dims { get; }
    public int DataType { get; }
    public long ElementCount { get; }
    /// <summary>The file the tensor came from, for error messages.</summary>
    public string Source { get; }

    public string ShapeText => $"[{string.Join(", ", Dims)}]";

    /// <summary>The values of a float32 tensor, checked against its shape.</summary>
    public float[] ReadFloats()
    {
        if (DataType != Float) throw new OnnxFormatException(Source, $"tensor '{Name}' has data type {DataType}, not float32 ({Float})");
        if (_floats is { Length: > 0 } || _raw.IsEmpty) return Checked(_floats ?? [], _floats?.Length ?? 0);
        if (_raw.Length % sizeof(float) != 0) throw new OnnxFormatException(Source, $"tensor '{Name}' has {_raw.Length} raw bytes, not a multiple of 4");
        // raw_data is little-endian, as is every platform .NET runs PeftSharp on.
        return Checked(MemoryMarshal.Cast<byte, float>(_raw.Span).ToArray(), _raw.Length / sizeof(float));
    }

    /// <summary>The values of an int64 tensor (shapes, axes), checked against its shape.</summary>
    public long[] ReadInt64s()
    {
        if (DataType != Int64) throw new OnnxFormatException(Source, $"tensor '{Name}' has data type {DataType}, not int64 ({Int64})");
        if (_int64s is { Length: > 0 } || _raw.IsEmpty) return Checked(_int64s ?? [], _int64s?.Length ?? 0);
        if (_raw.Length % sizeof(long) != 0) throw new OnnxFormatException(Source, $"tensor '{Name}' has {_raw.Length} raw bytes, not a multiple of 8");
        return Checked(MemoryMarshal.Cast<byte, long>(_raw.Span).ToArray(), _raw.Length / sizeof(long));
    }

    /// <summary>A new CPU float32 torch tensor with this tensor's shape and values.</summary>
    public Tensor ToTorch() => tensor(ReadFloats(), Dims.ToArray(), ScalarType.Float32);

    public override string ToString() => $"{Name} {ShapeText} (type {DataType})";

    private T[] Checked<T>(T[] values, long count)
    {
        if (count != ElementCount)
            throw new OnnxFormatException(Source, $"tensor '{Name}' {ShapeText} should hold {ElementCount} values but holds {count}");
        return values;
    }
}
