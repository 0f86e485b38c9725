using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// bitsandbytes' blockwise 8-bit quantization with a 256-entry code (quantize_blockwise / dequantize_blockwise of the
/// default kernels), used here for double quantization: <see cref="BlockScaling"/> per block, then the index of the
/// sorted code by its midpoints (uint8, unpacked). Dequantize: value = code[index] * absmax[block] (float32).
/// </summary>
public static class DynamicQuantizer
{
    /// <summary>Returns (indices uint8 [n], absmax float32 [ceil(n / blockSize)]) for a 1-D float32 tensor.</summary>
    /// <param name="code">Ascending float32 code of 256 entries (bitsandbytes assumes it is sorted, as the dynamic map is).</param>
    public static (Tensor Indices, Tensor Absmax) Quantize(Tensor values, float[] code, int blockSize)
    {
        if (values.dim() != 1 || values.dtype != ScalarType.Float32) throw new ArgumentException("expected a 1-D float32 tensor", nameof(values));
        if (blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be positive");
        using var scope = NewDisposeScope();
        var (absmax, scaled) = BlockScaling.Scale(values, blockSize);
        var indices = BlockScaling.Bucketize(scaled, BlockScaling.Midpoints(code)).to(ScalarType.Byte);
        return (indices.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
    }

    /// <summary>code[indices] * absmax per block, float32 [n].</summary>
    public static Tensor Dequantize(Tensor indices, Tensor absmax, Tensor code, int blockSize)
    {
        using var scope = NewDisposeScope();
        var values = code.index_select(0, indices.reshape(-1).to(ScalarType.Int64));
        return BlockScaling.ApplyScales(values, absmax, blockSize).MoveToOuterDisposeScope();
    }
}
