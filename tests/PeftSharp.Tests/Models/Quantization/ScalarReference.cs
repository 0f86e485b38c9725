namespace PeftSharp.Tests.Models.Quantization;

/// <summary>
/// A straightforward scalar re-implementation of bitsandbytes' 4-bit recipe, written from the fixtures' MANIFEST
/// ("fx:nf4") and bitsandbytes/backends/default/ops.py, one value at a time with C# float arithmetic, sharing no code
/// with PeftSharp.Models.Quantization. The code tables come from the fixture file (codes.safetensors), the FP4 sorted
/// order is the MANIFEST's list. The one step it does not redo is torch.mean's float32 summation order: it takes the
/// offset as given (checked against the fixtures exactly elsewhere, and here against a double-precision mean).
/// </summary>
internal static class ScalarReference
{
    public sealed record Result(byte[] Packed, float[] Absmax, byte[]? AbsmaxIndices, float[]? NestedAbsmax, float[] Dequant);

    public static readonly long[] Fp4Order = [11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3];

    /// <summary>Per-block scale and scaled values: reciprocal-multiply for full blocks, division for the short last one.</summary>
    private static (float[] Absmax, float[] Scaled) Scale(float[] w, int bs)
    {
        int n = w.Length, blocks = (n + bs - 1) / bs;
        var absmax = new float[blocks];
        var scaled = new float[n];
        for (int b = 0; b < blocks; b++)
        {
            int start = b * bs, end = Math.Min(n, start + bs);
            float max = 0f;
            for (int i = start; i < end; i++) max = Math.Max(max, Math.Abs(w[i]));
            float floor = Math.Max(max, 1e-38f);
            bool shortLast = end - start < bs;
            float inv = 1f / floor;
            for (int i = start; i < end; i++)
            {
                float s = shortLast ? w[i] / floor : w[i] * inv;
                scaled[i] = Math.Clamp(s, -1f, 1f);
            }
            absmax[b] = shortLast ? floor : max;
        }
        return (absmax, scaled);
    }

    /// <summary>Sorted position: number of midpoints strictly below s (a tie takes the lower code).</summary>
    private static int SortedIndex(float s, float[] sortedCode)
    {
        int k = 0;
        for (int j = 0; j + 1 < sortedCode.Length; j++)
            if ((sortedCode[j] + sortedCode[j + 1]) / 2f < s) k++;
        return k;
    }

    public static Result Quantize(float[] w, float[] table, bool fp4, int bs, bool doubleQuant, float[] dynamic, float? offset)
    {
        var order = fp4 ? Fp4Order : Enumerable.Range(0, 16).Select(i => (long)i).ToArray();
        var sorted = order.Select(i => table[i]).ToArray();
        var (absmax, scaled) = Scale(w, bs);
        var padded = scaled.Length % 2 == 1 ? [.. scaled, 0f] : scaled;
        var q = padded.Select(s => (int)order[SortedIndex(s, sorted)]).ToArray();
        var packed = new byte[q.Length / 2];
        for (int i = 0; i < packed.Length; i++) packed[i] = (byte)((q[2 * i] << 4) | q[2 * i + 1]);

        var scales = absmax;
        byte[]? indices = null;
        float[]? nested = null;
        if (doubleQuant)
        {
            float off = offset ?? throw new ArgumentNullException(nameof(offset));
            var centred = absmax.Select(a => a - off).ToArray();
            var (nestedAbsmax, nestedScaled) = Scale(centred, 256);
            nested = nestedAbsmax;
            indices = nestedScaled.Select(s => (byte)SortedIndex(s, dynamic)).ToArray();
            scales = indices.Select((ix, b) => dynamic[ix] * nestedAbsmax[b / 256] + off).ToArray();
        }
        var dequant = new float[w.Length];
        for (int i = 0; i < w.Length; i++) dequant[i] = table[q[i]] * scales[i / bs];
        return new Result(packed, absmax, indices, nested, dequant);
    }
}
