using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Moves bytes between a file and a tensor's native storage without a managed copy of the whole tensor.
/// TorchSharp only exposes storage as a Span, which cannot exceed 2^31 bytes, so both directions walk the
/// flattened tensor in element-aligned chunks and take a Span of each chunk.
/// </summary>
internal static class TensorBytes
{
    /// <summary>Well under int.MaxValue and a multiple of every element size.</summary>
    public const int ChunkBytes = 1 << 30;

    /// <summary>
    /// Creates a CPU tensor and fills it straight from the file with positional reads (no shared file
    /// position, so concurrent loads are safe; no mapping, so a file truncated underneath us gives an
    /// error instead of SIGBUS).
    /// </summary>
    public static torch.Tensor Read(SafeFileHandle file, long fileOffset, SafetensorsDType dtype, long[] shape,
        long byteLength, string path, string name)
    {
        var tensor = torch.empty(shape, SafetensorsDTypes.ToScalarType(dtype));
        try
        {
            if (byteLength > 0)
            {
                int elementSize = SafetensorsDTypes.SizeOf(dtype);
                long elements = byteLength / elementSize;
                long perChunk = ChunkBytes / elementSize;
                using var flat = tensor.reshape(-1);
                for (long first = 0; first < elements; first += perChunk)
                {
                    long count = Math.Min(perChunk, elements - first);
                    using var part = flat.narrow(0, first, count);
                    SafetensorsHeader.ReadExactly(file, part.bytes, fileOffset + first * elementSize, path, name);
                }
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Writes a contiguous CPU tensor's bytes; returns how many were written.</summary>
    public static long Write(Stream destination, torch.Tensor contiguousCpu)
    {
        long elements = contiguousCpu.numel();
        if (elements == 0) return 0;
        int elementSize = (int)contiguousCpu.element_size();
        long perChunk = ChunkBytes / elementSize;
        using var flat = contiguousCpu.reshape(-1);
        for (long first = 0; first < elements; first += perChunk)
        {
            long count = Math.Min(perChunk, elements - first);
            using var part = flat.narrow(0, first, count);
            destination.Write(part.bytes);
        }
        return elements * elementSize;
    }
}
