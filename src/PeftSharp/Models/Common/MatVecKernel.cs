using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>
/// y_(m,n) = Σ_k x_(m,k) W_(n,k) (+ b_n) for a few rows of x (a generated token, or a batch of up to 8), float32 on the
/// CPU: each output is one dot product of a contiguous row of W with a row of x, 16 lanes at a time (AVX-512), the outputs
/// split between the cores. Generation is bound by reading the weights once per token, and for one row libtorch's linear
/// (x Wᵀ through its BLAS) read GPT-2's tied 50257 x 768 output head in 11.7 ms where this kernel takes 5.2 ms (an AVX-512
/// EPYC, 2 cores; 6.1 against 1.3 ms at width 256). The other layout, x W (GPT-2's Conv1D), BLAS already streams near this
/// kernel's rate, so it is not used there. Used where no gradient is needed (inference, or no_grad), so training's autograd graph is untouched.
/// Its sums run in another order than BLAS's, so it agrees with nn.functional.linear to float32 rounding (about 1e-6
/// relative), not bit for bit; it is deterministic (each output is summed by one thread in a fixed order, whatever the
/// thread count).
/// </summary>
public static unsafe class MatVecKernel
{
    /// <summary>At most this many rows of x take the kernel; more are as fast through BLAS, which reuses W across rows.</summary>
    public const int MaxRows = 8;

    /// <summary>
    /// True when the kernel may run (the CPU has AVX-512 F); on by default. Setting it false sends every call to libtorch:
    /// how a test or a user gets BLAS's bits back.
    /// </summary>
    public static bool IsEnabled
    {
        get => _enabled && Avx512F.IsSupported;
        set => _enabled = value;
    }

    private static volatile bool _enabled = true;

    /// <summary>x Wᵀ + b through the kernel when it takes x, else through nn.functional.linear; W is [out, in].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) =>
        Takes(x, weight, bias) ? Run(x, weight, bias) : nn.functional.linear(x, weight, bias);

    /// <summary>
    /// Whether the kernel takes this call: float32 contiguous CPU tensors, at most <see cref="MaxRows"/> rows of x, an x
    /// whose last dimension is W's input size, and no gradient to record (grad mode off, or nothing requires one).
    /// </summary>
    public static bool Takes(Tensor x, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (!IsEnabled || weight.dim() != 2 || x.dim() == 0 || x.shape[^1] != weight.shape[1] || weight.shape[1] == 0) return false;
        if (x.dtype != ScalarType.Float32 || weight.dtype != ScalarType.Float32 || bias is { dtype: not ScalarType.Float32 }) return false;
        if (x.device.type != DeviceType.CPU || weight.device.type != DeviceType.CPU || bias is { device.type: not DeviceType.CPU }) return false;
        if (is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias is { requires_grad: true })) return false;
        long rows = x.numel() / weight.shape[1];
        return rows is > 0 and <= MaxRows && weight.is_contiguous() && weight.numel() <= int.MaxValue;
    }

    private static Tensor Run(Tensor x, Tensor weight, Tensor? bias)
    {
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        int rows = (int)(x.numel() / inFeatures);
        using var x2 = x.reshape(rows, inFeatures).contiguous();
        using var b = bias?.contiguous();
        var shape = x.shape.ToArray();
        shape[^1] = outFeatures;
        var result = empty(shape, ScalarType.Float32);
        float* xs = Pointer(x2), w = Pointer(weight), y = Pointer(result), bs = b is null ? null : Pointer(b);
        CpuRanges.For(outFeatures, 64, (first, last) => Dots(xs, w, bs, y, rows, inFeatures, outFeatures, first, last));
        return result;
    }

    /// <summary>The outputs [first, last) of every row: dot products of W's rows with x's, two 16-lane sums, then the tail.</summary>
    private static void Dots(float* x, float* w, float* bias, float* y, int rows, long k, long n, long first, long last)
    {
        for (long o = first; o < last; o++)
        {
            float* wo = w + o * k;
            float b = bias is null ? 0 : bias[o];
            for (int r = 0; r < rows; r++)
            {
                float* xr = x + r * k;
                var a0 = Vector512<float>.Zero;
                var a1 = Vector512<float>.Zero;
                long i = 0;
                for (; i + 32 <= k; i += 32)
                {
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(wo + i), Vector512.Load(xr + i), a0);
                    a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(wo + i + 16), Vector512.Load(xr + i + 16), a1);
                }
                if (i + 16 <= k)
                {
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(wo + i), Vector512.Load(xr + i), a0);
                    i += 16;
                }
                float sum = Vector512.Sum(a0 + a1);
                for (; i < k; i++) sum += wo[i] * xr[i];
                y[r * n + o] = sum + b;
            }
        }
    }

    /// <summary>The start of a contiguous CPU tensor's storage (its Span is over native memory, not a copy).</summary>
    private static float* Pointer(Tensor t) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
}
