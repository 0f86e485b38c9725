namespace PeftSharp.Models.Quantization;

/// <summary>
/// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): the 256-entry signed
/// "dynamic" 8-bit code used for the nested (double-quantized) absmax. For i = 0..6, with
/// b = linspace(0.1, 1, 2^i + 1) (float32) and means m_j = (b_j + b_(j+1)) / 2, it holds
/// +-10^(i-6) * m_j; then 0 and 1.0; sorted ascending (so index order = value order). Every step is
/// float32 arithmetic as torch does it (the power of ten is a Python double applied as a float32 scalar).
/// Checked bit for bit against the fixture's codes.safetensors.
/// </summary>
public static class DynamicMap
{
    public const int Size = 256;

    private static readonly float[] Map = Build();

    /// <summary>A copy of the map, ascending.</summary>
    public static float[] Values() => (float[])Map.Clone();

    internal static float[] ValuesRef => Map;

    private static float[] Build()
    {
        var data = new List<float>(Size);
        for (int i = 0; i < 7; i++)
        {
            int items = (1 << i) + 1;
            var boundaries = Linspace(0.1f, 1f, items);
            var scale = (float)Math.Pow(10, i - 6);
            var means = new float[items - 1];
            for (int j = 0; j < means.Length; j++) means[j] = (boundaries[j] + boundaries[j + 1]) / 2f;
            foreach (var m in means) data.Add(scale * m);
            foreach (var m in means) data.Add(-scale * m);
        }
        data.Add(0f);
        data.Add(1f);
        if (data.Count != Size) throw new InvalidOperationException($"dynamic map has {data.Count} entries, not {Size}");
        data.Sort();
        return data.ToArray();
    }

    /// <summary>
    /// torch.linspace(start, end, steps) in float32 as the fixtures' torch computed it: step = (end - start) / (steps - 1);
    /// below halfway = steps / 2 the value is start + step * i, from there end - step * (steps - 1 - i), each a fused
    /// multiply-add (one rounding: GCC contracts ATen's scalar expression into an FMA). Plain multiply-then-add, or
    /// the 8/16-lane vector path, gives 12 to 15 different values in the 65-step row; this reproduces all 256 entries.
    /// </summary>
    private static float[] Linspace(float start, float end, int steps)
    {
        var result = new float[steps];
        if (steps == 1) { result[0] = start; return result; }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++)
            result[i] = i < halfway ? MathF.FusedMultiplyAdd(step, i, start) : MathF.FusedMultiplyAdd(-step, steps - 1 - i, end);
        return result;
    }
}
