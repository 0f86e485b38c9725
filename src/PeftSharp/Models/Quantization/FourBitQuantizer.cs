using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// bitsandbytes' blockwise 4-bit quantization (functional.quantize_4bit / dequantize_4bit on its default kernels),
/// reproduced bit for bit in float32 with vectorised tensor ops:
/// <list type="number">
/// <item>Flatten W row-major to n values, blocks of B (<see cref="BlockSizes"/>); scale each block by its absmax
/// (<see cref="BlockScaling"/>: reciprocal-multiply for full blocks, a division for the short last block).</item>
/// <item>Index = position in the ascending code by its midpoints (lower code on a tie), mapped back to the table's
/// order (<see cref="FourBitCodes"/>: NF4 is sorted; FP4's sorted order is 11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3,
/// so 0 and tiny negatives take index 0 and tiny positives index 8).</item>
/// <item>Pack two per byte, first in the high nibble (<see cref="NibblePacking"/>), an odd n padded with the index of 0.</item>
/// <item>Double quantization: offset = mean(absmax) (float32 torch.mean); absmax - offset quantized by
/// <see cref="DynamicQuantizer"/> with the <see cref="DynamicMap"/> in blocks of 256.</item>
/// </list>
/// Dequantize: w = code[index] * scale_b, scale_b = absmax_b or, double-quantized,
/// dynamic[absmax_q_b] * nested_absmax[b / 256] + offset (float32 multiply, then add).
/// </summary>
public static class FourBitQuantizer
{
    private static readonly Dictionary<FourBitType, (float[] Midpoints, long[] SortedToIndex)> Bounds = new()
    {
        [FourBitType.Nf4] = BoundsFor(FourBitType.Nf4),
        [FourBitType.Fp4] = BoundsFor(FourBitType.Fp4),
    };

    /// <summary>
    /// Table indices in ascending value order (torch.argsort of the code; the two FP4 zeros 0 and -0 compare equal and keep
    /// table order, 0 before 8, as bitsandbytes' argsort gives), and the float32 midpoints between neighbours.
    /// </summary>
    private static (float[] Midpoints, long[] SortedToIndex) BoundsFor(FourBitType type)
    {
        var table = FourBitCodes.TableRef(type);
        var order = Enumerable.Range(0, table.Length).OrderBy(i => table[i]).Select(i => (long)i).ToArray(); // OrderBy is stable
        return (BlockScaling.Midpoints(order.Select(i => table[i]).ToArray()), order);
    }

    /// <summary>Table indices in ascending value order (for FP4: 11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3).</summary>
    public static IReadOnlyList<long> SortedOrder(FourBitType type) => Bounds[type].SortedToIndex;

    /// <summary>Quantizes a float weight (any shape, n &gt; 0; float16/bfloat16 are first converted to float32, as bitsandbytes does).</summary>
    /// <param name="doubleQuant">bitsandbytes' compress_statistics / bnb_4bit_use_double_quant.</param>
    public static QuantState Quantize(Tensor weight, FourBitType type = FourBitType.Nf4, int blockSize = BlockSizes.Default, bool doubleQuant = false)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (!BlockSizes.IsAllowed(blockSize))
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"bitsandbytes allows block sizes {BlockSizes.AllowedText}");
        if (weight.dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"4-bit quantization takes float32, float16 or bfloat16 weights, not {weight.dtype}", nameof(weight));
        if (weight.numel() == 0) throw new ArgumentException("cannot quantize an empty tensor", nameof(weight));

        using var scope = NewDisposeScope();
        var flat = weight.detach().cpu().reshape(-1).to(ScalarType.Float32);
        var (absmax, scaled) = BlockScaling.Scale(flat, blockSize);
        if (scaled.shape[0] % 2 == 1) scaled = nn.functional.pad(scaled, [0, 1]);
        var (midpoints, order) = Bounds[type];
        var sortedIndex = BlockScaling.Bucketize(scaled, midpoints);
        Tensor indices = sortedIndex;
        if (type != FourBitType.Nf4)
        {
            using var orderT = tensor(order);
            indices = orderT.index_select(0, sortedIndex);
        }
        var packed = NibblePacking.Pack(indices);

        NestedAbsmax? nested = null;
        var storedAbsmax = absmax;
        if (doubleQuant)
        {
            var offset = absmax.mean();
            var (q, nestedAbsmax) = DynamicQuantizer.Quantize(absmax.sub(offset), DynamicMap.ValuesRef, BlockSizes.Nested);
            storedAbsmax = q;
            nested = new NestedAbsmax(nestedAbsmax.MoveToOuterDisposeScope(), tensor(DynamicMap.ValuesRef).MoveToOuterDisposeScope(),
                BlockSizes.Nested, offset.item<float>());
        }
        return new QuantState(packed.MoveToOuterDisposeScope(), storedAbsmax.MoveToOuterDisposeScope(), type, blockSize,
            weight.shape.ToArray(), weight.dtype, nested);
    }

    /// <summary>The per-block scales as float32 [blocks]: absmax itself, or the dequantized nested absmax plus the offset.</summary>
    public static Tensor BlockScales(QuantState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Nested is not { } nested) return state.Absmax.to(ScalarType.Float32, copy: true);
        using var scope = NewDisposeScope();
        var offset = tensor(nested.Offset).to(state.Absmax.device);
        var scales = DynamicQuantizer.Dequantize(state.Absmax, nested.Absmax, nested.Code, nested.BlockSize).add(offset);
        return scales.MoveToOuterDisposeScope();
    }

    /// <summary>Row b: the code values of byte b's two nibbles, high first (float32 [256, 2]); made once per type.</summary>
    private static readonly Dictionary<FourBitType, float[]> Pairs = new()
    {
        [FourBitType.Nf4] = PairsOf(FourBitType.Nf4),
        [FourBitType.Fp4] = PairsOf(FourBitType.Fp4),
    };

    private static float[] PairsOf(FourBitType type)
    {
        var code = FourBitCodes.TableRef(type);
        var pairs = new float[512];
        for (int b = 0; b < 256; b++) (pairs[2 * b], pairs[2 * b + 1]) = (code[b >> 4], code[b & 15]);
        return pairs;
    }

    private static Tensor PairTable(FourBitType type, Device device) => tensor(Pairs[type], [256, 2]).to(device);

    /// <summary>The float32 weight, shaped as the original (bitsandbytes then casts to its dtype; callers do that).</summary>
    public static Tensor Dequantize(QuantState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var scope = NewDisposeScope();
        long n = state.ElementCount;
        if (FourBitKernels.CanDequantize(state))
        {
            // Every linear weight of a real model on the CPU: one fused pass (the same bits as the tensor ops below).
            var scales = state.Nested is null ? state.Absmax : BlockScales(state);
            return FourBitKernels.Dequantize(state, scales).MoveToOuterDisposeScope();
        }
        // One gather per byte from a 256 x 2 table of (code[high nibble], code[low nibble]): the same float32 values as
        // unpacking the nibbles and looking each up, in one pass over the packed bytes instead of several over int64 indices.
        var values = PairTable(state.QuantType, state.Packed.device).index_select(0, state.Packed.reshape(-1).to(ScalarType.Int32)).reshape(-1);
        Tensor weight;
        if (values.shape[0] == n && n % state.BlockSize == 0)
        {
            // The common case (every linear weight of a real model): whole blocks, scaled in place in the buffer the
            // gather made, with no padding, slicing or second buffer (half the time of the general path below). The
            // same float32 multiply, so the same bits.
            var scales = state.Nested is null ? state.Absmax : BlockScales(state);
            weight = values.view(-1, state.BlockSize).mul_(scales.view(-1, 1)).view(state.Shape);
        }
        else
        {
            weight = BlockScaling.ApplyScales(values.slice(0, 0, n, 1), BlockScales(state), state.BlockSize).reshape(state.Shape);
        }
        return weight.MoveToOuterDisposeScope();
    }
}
