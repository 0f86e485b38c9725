using TorchSharp;

namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Maps between header dtype strings, <see cref="SafetensorsDType"/> and TorchSharp scalar types in one
/// place, so that the reader and the writer cannot disagree about sizes or names.
/// </summary>
public static class SafetensorsDTypes
{
    /// <summary>Every supported dtype, in enum order.</summary>
    public static IReadOnlyList<SafetensorsDType> All { get; } = Enum.GetValues<SafetensorsDType>();

    public static int SizeOf(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    public static torch.ScalarType ToScalarType(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.I64 => torch.ScalarType.Int64,
        SafetensorsDType.I32 => torch.ScalarType.Int32,
        SafetensorsDType.I16 => torch.ScalarType.Int16,
        SafetensorsDType.I8 => torch.ScalarType.Int8,
        SafetensorsDType.U8 => torch.ScalarType.Byte,
        SafetensorsDType.BOOL => torch.ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    /// <summary>Throws <see cref="PeftException"/> for types safetensors cannot store (complex, quantized).</summary>
    public static SafetensorsDType FromScalarType(torch.ScalarType type) => TryFromScalarType(type, out var dtype)
        ? dtype
        : throw new PeftException($"torch dtype {type} cannot be stored in a safetensors file by PeftSharp " +
                                  $"(supported: {string.Join(", ", All.Select(ToScalarType))})");

    public static bool TryFromScalarType(torch.ScalarType type, out SafetensorsDType dtype)
    {
        switch (type)
        {
            case torch.ScalarType.Float64: dtype = SafetensorsDType.F64; return true;
            case torch.ScalarType.Float32: dtype = SafetensorsDType.F32; return true;
            case torch.ScalarType.Float16: dtype = SafetensorsDType.F16; return true;
            case torch.ScalarType.BFloat16: dtype = SafetensorsDType.BF16; return true;
            case torch.ScalarType.Int64: dtype = SafetensorsDType.I64; return true;
            case torch.ScalarType.Int32: dtype = SafetensorsDType.I32; return true;
            case torch.ScalarType.Int16: dtype = SafetensorsDType.I16; return true;
            case torch.ScalarType.Int8: dtype = SafetensorsDType.I8; return true;
            case torch.ScalarType.Byte: dtype = SafetensorsDType.U8; return true;
            case torch.ScalarType.Bool: dtype = SafetensorsDType.BOOL; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>The string the header uses, e.g. "BF16".</summary>
    public static string ToHeaderString(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 => "F64",
        SafetensorsDType.F32 => "F32",
        SafetensorsDType.F16 => "F16",
        SafetensorsDType.BF16 => "BF16",
        SafetensorsDType.I64 => "I64",
        SafetensorsDType.I32 => "I32",
        SafetensorsDType.I16 => "I16",
        SafetensorsDType.I8 => "I8",
        SafetensorsDType.U8 => "U8",
        SafetensorsDType.BOOL => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    /// <summary>
    /// Exact, case-sensitive match on the header string. Enum.TryParse is not used because it would
    /// also accept "f32", "1" or " F32", none of which a safetensors file may contain.
    /// </summary>
    public static bool TryParse(string? text, out SafetensorsDType dtype)
    {
        foreach (var candidate in All)
        {
            if (string.Equals(ToHeaderString(candidate), text, StringComparison.Ordinal))
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    public static SafetensorsDType Parse(string text) => TryParse(text, out var dtype)
        ? dtype
        : throw new PeftException($"'{text}' is not a safetensors dtype PeftSharp supports " +
                                  $"(supported: {string.Join(", ", All.Select(ToHeaderString))})");

    /// <summary>
    /// Position of the dtype in the Rust safetensors crate's Dtype enum (BOOL, U8, I8, [F8…], I16, [U16], F16,
    /// BF16, I32, [U32], F32, F64, I64, [U64]). Python's writer sorts tensors by this, descending, then by
    /// name; we copy it so our files are byte-identical to Python's.
    /// </summary>
    internal static int PythonWriteRank(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL => 0,
        SafetensorsDType.U8 => 1,
        SafetensorsDType.I8 => 2,
        SafetensorsDType.I16 => 3,
        SafetensorsDType.F16 => 4,
        SafetensorsDType.BF16 => 5,
        SafetensorsDType.I32 => 6,
        SafetensorsDType.F32 => 7,
        SafetensorsDType.F64 => 8,
        SafetensorsDType.I64 => 9,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };
}
