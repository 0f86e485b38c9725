using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// bitsandbytes' 4-bit storage: two indices per byte, the FIRST of each pair in the HIGH nibble,
/// byte_i = (q_(2i) &lt;&lt; 4) | q_(2i+1), stored as uint8 [ceil(n / 2), 1]. An odd n is padded by the caller with the
/// index of a scaled 0.0 before packing; unpacking returns all 2 * bytes indices and the caller drops the pad.
/// </summary>
internal static class NibblePacking
{
    /// <summary>Even-length int64 indices in 0..15 to uint8 [length / 2, 1].</summary>
    public static Tensor Pack(Tensor indices)
    {
        using var scope = NewDisposeScope();
        long n = indices.shape[0];
        var high = indices.slice(0, 0, n, 2);
        var low = indices.slice(0, 1, n, 2);
        return high.mul(16L).add(low).to(ScalarType.Byte).unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>Packed bytes (any shape) to int64 indices [2 * bytes]: high nibble, then low nibble, byte by byte.</summary>
    public static Tensor Unpack(Tensor packed)
    {
        using var scope = NewDisposeScope();
        var bytes = packed.reshape(-1).to(ScalarType.Int64);
        var low = bytes.remainder(16L);
        var high = bytes.sub(low).div(16L, RoundingMode.trunc);
        return stack([high, low], 1).reshape(-1).MoveToOuterDisposeScope();
    }
}
