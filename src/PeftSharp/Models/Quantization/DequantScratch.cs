using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// One float32 CPU buffer per thread that a 4-bit layer dequantizes W_c into for its matmul, reused by every layer and
/// every call: a fresh 46 MB tensor per call (TinyLlama's MLP weight) costs a page fault per 4 KiB, which measured five
/// times the decoding itself (<c>bench ... dequant</c>). It grows to the largest layer the thread has seen and is kept
/// for the thread's life, outside every dispose scope. Only <see cref="Linear4bit"/>'s own matmuls use it, and they drop
/// the view before returning, so no caller ever holds it.
/// </summary>
internal static class DequantScratch
{
    [ThreadStatic] private static Tensor? _buffer;

    /// <summary>A view of this thread's buffer with the given shape (at least as many values as it has).</summary>
    public static Tensor View(long[] shape)
    {
        long n = shape.Aggregate(1L, (a, d) => checked(a * d));
        if (_buffer is null || _buffer.numel() < n)
        {
            _buffer?.Dispose();
            _buffer = empty(n, ScalarType.Float32).DetachFromDisposeScope();
        }
        return _buffer.narrow(0, 0, n).view(shape);
    }
}
