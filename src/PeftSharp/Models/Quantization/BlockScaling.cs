using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// The blockwise absmax scaling that bitsandbytes' default (pure PyTorch) kernels share between 4-bit and 8-bit
/// quantization (backends/default/ops.py). For a flat float32 vector of n values in blocks of B:
/// absmax_b = max |w| over block b; full blocks: s = clamp(w * (1 / max(absmax_b, 1e-38)), -1, 1) (a float32
/// reciprocal, then a multiply); the last, shorter block: s = clamp(w / max(absmax_b, 1e-38), -1, 1) (a division, which
/// can round differently), and its stored absmax is the clamped max(absmax, 1e-38) (an all-zero full block stores 0).
/// The code index is then k = #{j : m_j &lt; s} over the midpoints m_j of the sorted code (torch.bucketize, right=False:
/// a value exactly on a midpoint takes the lower code).
/// </summary>
internal static class BlockScaling
{
    /// <summary>1e-38, a float32 subnormal, the floor bitsandbytes puts under every absmax before dividing.</summary>
    private const double AbsmaxFloor = 1e-38;

    /// <summary>Returns (absmax float32 [blocks], scaled float32 [n]) for a flat float32 vector.</summary>
    public static (Tensor Absmax, Tensor Scaled) Scale(Tensor flat, int blockSize)
    {
        long n = flat.shape[0];
        long rem = n % blockSize, full = n - rem, blocks = full / blockSize;
        using var scope = NewDisposeScope();
        var head = flat.slice(0, 0, full, 1).reshape(blocks, blockSize);
        var absmax = head.abs().amax([-1L]);
        var scaled = head.mul(absmax.clamp_min(AbsmaxFloor).reciprocal().view(-1, 1)).clamp(-1.0, 1.0).reshape(-1);
        if (rem > 0)
        {
            var tail = flat.slice(0, full, n, 1);
            var tailMax = tail.abs().max().clamp_min(AbsmaxFloor);
            absmax = cat([absmax, tailMax.unsqueeze(0)], 0);
            scaled = cat([scaled, tail.div(tailMax).clamp(-1.0, 1.0)], 0);
        }
        return (absmax.MoveToOuterDisposeScope(), scaled.MoveToOuterDisposeScope());
    }

    /// <summary>float32 midpoints (c_j + c_(j+1)) / 2 of an ascending code.</summary>
    public static float[] Midpoints(IReadOnlyList<float> sorted)
    {
        var m = new float[sorted.Count - 1];
        for (int j = 0; j < m.Length; j++) m[j] = (sorted[j] + sorted[j + 1]) / 2f;
        return m;
    }

    /// <summary>Sorted-code position of each scaled value: #{j : midpoints_j &lt; s}, int64.</summary>
    public static Tensor Bucketize(Tensor scaled, float[] midpoints)
    {
        using var bounds = tensor(midpoints);
        return bucketize(scaled, bounds, outInt32: false, right: false);
    }

    /// <summary>
    /// Multiplies each value by its block's scale: out_i = values_i * scales[i / blockSize] (float32, one multiply).
    /// </summary>
    public static Tensor ApplyScales(Tensor values, Tensor scales, int blockSize)
    {
        long n = values.shape[0];
        long blocks = BlockSizes.BlockCount(n, blockSize);
        if (scales.shape[0] != blocks) throw new ArgumentException($"{scales.shape[0]} scales for {blocks} blocks of {blockSize}", nameof(scales));
        using var scope = NewDisposeScope();
        var padded = blocks * blockSize == n ? values : nn.functional.pad(values, [0, blocks * blockSize - n]);
        var result = padded.view(blocks, blockSize).mul(scales.view(-1, 1)).reshape(-1).slice(0, 0, n, 1).contiguous();
        return result.MoveToOuterDisposeScope();
    }
}
