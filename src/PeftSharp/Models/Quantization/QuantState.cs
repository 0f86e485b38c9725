using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// A 4-bit quantized weight as bitsandbytes' QuantState holds it. <see cref="Packed"/>: uint8 [ceil(n / 2), 1], two
/// 4-bit indices per byte, the first value of each pair in the high nibble. <see cref="Absmax"/>: the per-block scale,
/// float32 [blocks] (blocks = ceil(n / <see cref="BlockSize"/>)), or with double quantization uint8 [blocks], indices
/// into <see cref="NestedAbsmax.Code"/>. <see cref="Shape"/> and <see cref="DType"/> are those of the original weight.
/// Owns its tensors.
/// </summary>
public sealed record QuantState(Tensor Packed, Tensor Absmax, FourBitType QuantType, int BlockSize, long[] Shape, ScalarType DType,
    NestedAbsmax? Nested) : IDisposable
{
    /// <summary>Number of weight values n (product of <see cref="Shape"/>).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => checked(a * d));

    /// <summary>ceil(n / BlockSize).</summary>
    public long Blocks => BlockSizes.BlockCount(ElementCount, BlockSize);

    public void Dispose()
    {
        Packed.Dispose();
        Absmax.Dispose();
        Nested?.Dispose();
    }
}

/// <summary>
/// Double quantization of the per-block absmax (bitsandbytes compress_statistics=True): offset = mean(absmax); the
/// values absmax - offset are quantized blockwise (<see cref="BlockSize"/>, 256 as bitsandbytes writes) to 8-bit
/// indices into <see cref="Code"/> (the dynamic map, float32 [256]) with <see cref="Absmax"/> float32
/// [ceil(blocks / BlockSize)] as their scales. The scale of 4-bit block b is
/// Code[absmax_q[b]] * Absmax[b / BlockSize] + Offset (float32 multiply, then float32 add).
/// </summary>
public sealed record NestedAbsmax(Tensor Absmax, Tensor Code, int BlockSize, float Offset) : IDisposable
{
    public void Dispose()
    {
        Absmax.Dispose();
        Code.Dispose();
    }
}
