using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>The bitsandbytes references in TestData/fixtures/nf4 (the "fx:nf4" section of ../shared/fixtures/MANIFEST.md).</summary>
internal static class Nf4Fixtures
{
    public static string Root => Path.Combine(Fixtures.Root, "nf4");
    public static string File(string name) => Path.Combine(Root, name + ".safetensors");
    public static string Bnb4Llama => Path.Combine(Root, "llama_bnb4");

    public static float[] Floats(Tensor t) => t.contiguous().to(ScalarType.Float32).data<float>().ToArray();
    public static byte[] Bytes(Tensor t) => t.contiguous().data<byte>().ToArray();

    /// <summary>The raw 32-bit patterns, so -0 differs from 0 and a comparison is bit for bit.</summary>
    public static int[] Bits(Tensor t) => Floats(t).Select(BitConverter.SingleToInt32Bits).ToArray();

    public static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>Count of positions whose bits differ, plus the first one, for a failure message.</summary>
    public static (int Count, string First) Differences(int[] ours, int[] expected)
    {
        Assert.Equal(expected.Length, ours.Length);
        int count = 0;
        string first = "";
        for (int i = 0; i < ours.Length; i++)
        {
            if (ours[i] == expected[i]) continue;
            if (count++ == 0)
                first = $"first at {i}: ours {BitConverter.Int32BitsToSingle(ours[i]):R} vs {BitConverter.Int32BitsToSingle(expected[i]):R}";
        }
        return (count, first);
    }

    public static void AssertBitsEqual(int[] expected, int[] ours, string what)
    {
        var (count, first) = Differences(ours, expected);
        Assert.True(count == 0, $"{what}: {count} of {expected.Length} values differ; {first}");
    }

    public static SafetensorsFile Open(string name) => SafetensorsFile.Open(File(name));

    /// <summary>A code table from the fixture's codes.safetensors (code_nf4, code_fp4, code_dynamic).</summary>
    public static float[] Codes(string key)
    {
        using var file = Open("codes");
        using var t = file.Load(key);
        return Floats(t);
    }

    /// <summary>n normal values (Box-Muller from a seeded System.Random) times scale: test weights that need no libtorch RNG.</summary>
    public static float[] Normal(int n, int seed, float scale)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++)
            v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())) * scale;
        return v;
    }
}
