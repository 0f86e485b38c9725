using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// The two inner loops of a 4-bit layer on the CPU, written with .NET's hardware intrinsics because a chain of tensor
/// ops cannot fuse them (q = the 4-bit index, two per byte, high nibble first; s_b = the scale of block b of B values;
/// the weight W [out, in] flattened row-major):
/// <list type="bullet">
/// <item><b>Dequantize</b>: w_i = code[q_i] · s_(i / B), the same single float32 multiply as the tensor-op path
/// (<see cref="FourBitQuantizer.Dequantize"/>), so the same bits; one pass that reads the packed bytes and writes the float
/// weight once, where the tensor ops write an int32 copy of the bytes, a gathered copy and then scale it.</item>
/// <item><b>MatVec</b>: y_(m,o) = Σ_b s_b Σ_(i ∈ b) code[q_(o,i)] x_(m,i) (+ bias_o) for a few rows of x (a generated
/// token): it reads W's 4-bit bytes once and never writes a float copy of W, which is what made 4-bit generation memory-bound
/// on a weight eight times the size of the one it holds. Its sums run in another order than a float matmul's, so it
/// agrees with dequantize-then-matmul to float32 rounding (about 1e-6 relative), not bit for bit; it is deterministic
/// (each output is summed by one thread in a fixed order, whatever the thread count).</item>
/// </list>
/// With AVX-512 (Avx512F) 16 values are decoded at once: 8 bytes are widened to 16 int32 lanes (each byte twice),
/// shifted by 4 or 0 and masked to a nibble, and looked up in the 16-entry code held in one register (vpermps). Without
/// it a scalar loop reads a 256-entry table of byte → (code[high], code[low]) and gives the same dequantized bits.
/// Both run on every core through Parallel.For over whole blocks (dequantize) or output rows (MatVec).
/// </summary>
public static unsafe class FourBitKernels
{
    /// <summary>At most this many rows of x go through <see cref="MatVec"/>; more are faster as dequantize + matmul.</summary>
    public const int MaxMatVecRows = 8;

    /// <summary>Whether this CPU has what the 16-wide path needs (AVX-512 F; SSSE3 comes with it).</summary>
    public static bool HasVectorPath => Avx512F.IsSupported && Ssse3.IsSupported;

    /// <summary>
    /// True when the 16-wide AVX-512 path runs (else the scalar one, and no <see cref="MatVec"/>); on by default where the CPU
    /// has it. Setting it false runs the scalar path on any CPU: how the tests check it on a machine with AVX-512.
    /// </summary>
    public static bool IsVectorized
    {
        get => _vectorize && HasVectorPath;
        set => _vectorize = value;
    }

    private static volatile bool _vectorize = true;

    /// <summary>
    /// Whether <see cref="Dequantize"/> takes this weight: on the CPU, whole blocks (B divides n; every linear weight of a real
    /// model), a float32 result under 2 GiB (TorchSharp hands out native memory as a Span, which is int-sized).
    /// </summary>
    public static bool CanDequantize(QuantState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        long n = state.ElementCount;
        return state.Packed.device.type == DeviceType.CPU && n % state.BlockSize == 0 && n * sizeof(float) <= int.MaxValue
            && state.Packed.dtype == ScalarType.Byte && state.Packed.numel() == n / 2;
    }

    /// <summary>The float32 weight shaped as the original, from the packed bytes and float32 block scales [blocks].</summary>
    public static Tensor Dequantize(QuantState state, Tensor scales)
    {
        ArgumentNullException.ThrowIfNull(state);
        var result = empty(state.Shape, ScalarType.Float32);
        try
        {
            DequantizeInto(state, scales, result);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="Dequantize"/> into an existing contiguous float32 CPU tensor of n values (a reused scratch buffer: a new one
    /// per call costs a page fault per 4 KiB, about as long as the decoding itself).
    /// </summary>
    public static void DequantizeInto(QuantState state, Tensor scales, Tensor result)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(scales);
        ArgumentNullException.ThrowIfNull(result);
        if (result.dtype != ScalarType.Float32 || result.device.type != DeviceType.CPU || !result.is_contiguous() || result.numel() != state.ElementCount)
            throw new ArgumentException($"the destination must be a contiguous float32 CPU tensor of {state.ElementCount} values", nameof(result));
        if (!CanDequantize(state)) throw new ArgumentException("the 4-bit kernel takes whole blocks of a CPU weight under 2 GiB", nameof(state));
        long n = state.ElementCount, blocks = n / state.BlockSize;
        using var scale32 = scales.to(ScalarType.Float32).contiguous();
        using var packed = state.Packed.contiguous();
        if (scale32.numel() != blocks) throw new ArgumentException($"{scale32.numel()} scales for {blocks} blocks", nameof(scales));
        byte* q = Pointer<byte>(packed);
        float* s = Pointer<float>(scale32), w = Pointer<float>(result);
        int blockSize = state.BlockSize;
        var code = FourBitCodes.TableRef(state.QuantType);
        var pairs = PairTable(state.QuantType);
        CpuRanges.For(blocks, Math.Max(1, (1 << 16) / blockSize), (first, last) =>
        {
            fixed (float* c = code)
            fixed (float* p = pairs)
            {
                if (IsVectorized) DequantizeBlocksAvx512(q, s, c, w, first, last, blockSize);
                else DequantizeBlocksScalar(q, s, p, w, first, last, blockSize);
            }
        });
    }

    /// <summary>
    /// Whether <see cref="MatVec"/> takes x [m, in] (any leading shape flattened) for this layer: float32 x on the CPU with at
    /// most <see cref="MaxMatVecRows"/> rows, blocks that do not cross rows (B divides in), and the vector path available.
    /// </summary>
    public static bool CanMatVec(QuantState state, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(x);
        if (!IsVectorized || x.dtype != ScalarType.Float32 || x.device.type != DeviceType.CPU || state.Shape.Length != 2) return false;
        long inFeatures = state.Shape[1];
        if (x.dim() == 0 || x.shape[^1] != inFeatures || inFeatures % state.BlockSize != 0) return false;
        long rows = x.numel() / inFeatures;
        return rows is > 0 and <= MaxMatVecRows && CanDequantize(state);
    }

    /// <summary>x Wᵀ (+ bias) as float32, shaped [..., out], for x [..., in] that <see cref="CanMatVec"/> accepts.</summary>
    public static Tensor MatVec(QuantState state, Tensor scales, Tensor x, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(scales);
        ArgumentNullException.ThrowIfNull(x);
        if (!CanMatVec(state, x)) throw new ArgumentException("the 4-bit matrix-vector kernel does not take this input", nameof(x));
        long outFeatures = state.Shape[0], inFeatures = state.Shape[1];
        int rows = (int)(x.numel() / inFeatures);
        using var x2 = x.reshape(rows, inFeatures).contiguous();
        using var scale32 = scales.to(ScalarType.Float32).contiguous();
        using var packed = state.Packed.contiguous();
        using var bias32 = bias?.to(ScalarType.Float32).contiguous();
        var shape = x.shape.ToArray();
        shape[^1] = outFeatures;
        var result = empty(shape, ScalarType.Float32);
        byte* q = Pointer<byte>(packed);
        float* s = Pointer<float>(scale32), xs = Pointer<float>(x2), y = Pointer<float>(result);
        float* b = bias32 is null ? null : Pointer<float>(bias32);
        int blockSize = state.BlockSize;
        var code = FourBitCodes.TableRef(state.QuantType);
        CpuRanges.For(outFeatures, 16, (first, last) =>
        {
            fixed (float* c = code) MatVecRowsAvx512(q, s, c, xs, y, b, rows, inFeatures, outFeatures, blockSize, first, last);
        });
        return result;
    }

    private static float[] PairTable(FourBitType type)
    {
        var code = FourBitCodes.TableRef(type);
        var pairs = new float[512];
        for (int v = 0; v < 256; v++) (pairs[2 * v], pairs[2 * v + 1]) = (code[v >> 4], code[v & 15]);
        return pairs;
    }

    /// <summary>The start of a contiguous CPU tensor's storage (its Span is over native memory, not a copy).</summary>
    private static T* Pointer<T>(Tensor t) where T : unmanaged =>
        (T*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>8 bytes → 16 code values in order (high nibble, low nibble, ...).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Decode16(byte* bytes, Vector512<float> code, Vector128<byte> duplicate, Vector512<uint> shifts, Vector512<uint> nibble)
    {
        var eight = Vector128.CreateScalarUnsafe(*(ulong*)bytes).AsByte();
        var lanes = Avx512F.ConvertToVector512UInt32(Ssse3.Shuffle(eight, duplicate));
        var index = Avx512F.And(Avx512F.ShiftRightLogicalVariable(lanes, shifts), nibble);
        return Avx512F.PermuteVar16x32(code, index.AsInt32());
    }

    private static Vector128<byte> DuplicateBytes => Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    private static Vector512<uint> NibbleShifts => Vector512.Create(4u, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0);

    private static void DequantizeBlocksAvx512(byte* q, float* s, float* c, float* w, long first, long last, int blockSize)
    {
        var code = Vector512.Load(c);
        var duplicate = DuplicateBytes;
        var shifts = NibbleShifts;
        var nibble = Vector512.Create(15u);
        for (long block = first; block < last; block++)
        {
            var scale = Vector512.Create(s[block]);
            byte* src = q + block * (blockSize / 2);
            float* dst = w + block * blockSize;
            for (int j = 0; j < blockSize; j += 16)
                Avx512F.Multiply(Decode16(src + j / 2, code, duplicate, shifts, nibble), scale).Store(dst + j);
        }
    }

    private static void DequantizeBlocksScalar(byte* q, float* s, float* pairs, float* w, long first, long last, int blockSize)
    {
        for (long block = first; block < last; block++)
        {
            float scale = s[block];
            byte* src = q + block * (blockSize / 2);
            float* dst = w + block * blockSize;
            for (int j = 0; j < blockSize / 2; j++)
            {
                float* pair = pairs + 2 * src[j];
                dst[2 * j] = pair[0] * scale;
                dst[2 * j + 1] = pair[1] * scale;
            }
        }
    }

    private static void MatVecRowsAvx512(byte* q, float* s, float* c, float* x, float* y, float* bias, int rows, long inFeatures,
        long outFeatures, int blockSize, long first, long last)
    {
        var code = Vector512.Load(c);
        var duplicate = DuplicateBytes;
        var shifts = NibbleShifts;
        var nibble = Vector512.Create(15u);
        long blocksPerRow = inFeatures / blockSize;
        var total = stackalloc Vector512<float>[MaxMatVecRows];
        var partial = stackalloc Vector512<float>[MaxMatVecRows];
        for (long o = first; o < last; o++)
        {
            byte* rowBytes = q + o * (inFeatures / 2);
            float* rowScales = s + o * blocksPerRow;
            if (rows == 1)
            {
                // The one-token case of generation, with its two accumulators in registers.
                var sum = Vector512<float>.Zero;
                for (long block = 0; block < blocksPerRow; block++)
                {
                    var inner = Vector512<float>.Zero;
                    long start = block * blockSize;
                    for (int j = 0; j < blockSize; j += 16)
                        inner = Avx512F.FusedMultiplyAdd(Decode16(rowBytes + (start + j) / 2, code, duplicate, shifts, nibble), Vector512.Load(x + start + j), inner);
                    sum = Avx512F.FusedMultiplyAdd(inner, Vector512.Create(rowScales[block]), sum);
                }
                y[o] = Vector512.Sum(sum) + (bias == null ? 0f : bias[o]);
                continue;
            }
            for (int m = 0; m < rows; m++) total[m] = Vector512<float>.Zero;
            for (long block = 0; block < blocksPerRow; block++)
            {
                for (int m = 0; m < rows; m++) partial[m] = Vector512<float>.Zero;
                long start = block * blockSize;
                for (int j = 0; j < blockSize; j += 16)
                {
                    var weights = Decode16(rowBytes + (start + j) / 2, code, duplicate, shifts, nibble);
                    for (int m = 0; m < rows; m++)
                        partial[m] = Avx512F.FusedMultiplyAdd(weights, Vector512.Load(x + m * inFeatures + start + j), partial[m]);
                }
                var scale = Vector512.Create(rowScales[block]);
                for (int m = 0; m < rows; m++) total[m] = Avx512F.FusedMultiplyAdd(partial[m], scale, total[m]);
            }
            for (int m = 0; m < rows; m++) y[m * outFeatures + o] = Vector512.Sum(total[m]) + (bias == null ? 0f : bias[o]);
        }
    }
}
