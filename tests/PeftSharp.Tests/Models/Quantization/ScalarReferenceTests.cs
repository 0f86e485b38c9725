using PeftSharp.Models.Quantization;
using static PeftSharp.Tests.Models.Quantization.Nf4Fixtures;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>
/// The vectorised quantizer against <see cref="ScalarReference"/> on shapes and values the fixtures lack: odd n, all-zero
/// full and short last blocks, values exactly on code midpoints, +-0 and tiny values, block sizes 32/128/4096, and double
/// quantization over several nested blocks with a short last one.
/// </summary>
public class ScalarReferenceTests
{
    /// <summary>Block 0 holds 1.0 and every midpoint of the table exactly (and their negatives), so s = w: ties everywhere.</summary>
    private static float[] OnMidpoints(float[] table, int n)
    {
        var sorted = table.Order().ToArray();
        var values = new List<float> { 1f };
        for (int j = 0; j + 1 < sorted.Length; j++) values.Add((sorted[j] + sorted[j + 1]) / 2f);
        values.AddRange([0f, -0f, 1e-30f, -1e-30f, float.Epsilon, -float.Epsilon]);
        var w = Normal(n, 77, 0.05f);
        for (int i = 0; i < values.Count && i < n; i++) w[i] = values[i];
        return w;
    }

    /// <summary>
    /// An absmax a and a value w for which w / a and w * (1 / a) fall on different sides of a code midpoint, so the
    /// division bitsandbytes uses in the short last block and the reciprocal-multiply of full blocks give different codes.
    /// </summary>
    private static (float Absmax, float W) Straddle(float[] table)
    {
        var sorted = table.Order().ToArray();
        for (int j = 0; j + 1 < sorted.Length; j++)
        {
            float m = (sorted[j] + sorted[j + 1]) / 2f;
            if (m == 0f) continue;
            for (int k = 0; k < 20000; k++)
            {
                float a = 0.05f + k * 1.37e-6f;
                float w = m * a;
                for (int step = -3; step <= 3; step++)
                {
                    float c = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(w) + step);
                    if (Math.Abs(c) < a && (c / a <= m) != (c * (1f / a) <= m)) return (a, c);
                }
            }
        }
        throw new InvalidOperationException("no straddling value found");
    }

    /// <summary>A full block and a short last block, each holding its absmax and a straddling value.</summary>
    private static float[] DivisionDecides(float[] table)
    {
        var (a, w) = Straddle(table);
        var v = Normal(64 + 5, 9, 0.001f);
        v[0] = a; v[1] = w; v[64] = a; v[65] = w;
        return v;
    }

    public static TheoryData<string, string, int, bool> Cases()
    {
        var data = new TheoryData<string, string, int, bool>();
        foreach (var type in new[] { "nf4", "fp4" })
            foreach (var dq in new[] { false, true })
            {
                data.Add("odd 7x9", type, 64, dq);
                data.Add("odd 13x77", type, 32, dq);
                data.Add("zero blocks 5x40", type, 64, dq);
                data.Add("midpoints 3x64", type, 64, dq);
                data.Add("division decides 69", type, 64, dq);
                data.Add("outliers 50x128", type, 128, dq);
                data.Add("two blocks of 4096 and a short one", type, 4096, dq);
                data.Add("601 blocks", type, 64, dq);
            }
        return data;
    }

    private static (float[] W, long[] Shape) Input(string name, float[] table) => name switch
    {
        "odd 7x9" => (Normal(63, 1, 0.05f), [7, 9]),
        "odd 13x77" => (Normal(1001, 2, 0.05f), [13, 77]),
        // 200 values: block 0 (full) and the short last block (8 values) all zero
        "zero blocks 5x40" => (Normal(200, 3, 0.05f).Select((v, i) => i < 64 || i >= 192 ? 0f : v).ToArray(), [5, 40]),
        "midpoints 3x64" => (OnMidpoints(table, 192), [3, 64]),
        "division decides 69" => (DivisionDecides(table), [69]),
        "outliers 50x128" => (Normal(6400, 5, 0.05f).Select((v, i) => i % 97 == 0 ? v * 25 : v).ToArray(), [50, 128]),
        "two blocks of 4096 and a short one" => (Normal(2 * 4096 + 5, 6, 0.05f), [8197]),
        "601 blocks" => (Normal(600 * 64 + 17, 7, 0.05f).Select((v, i) => i % 1000 == 0 ? v * 40 : v).ToArray(), [41, 937]),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void VectorisedEqualsScalarReference(string input, string typeName, int blockSize, bool doubleQuant)
    {
        bool fp4 = typeName == "fp4";
        var table = Codes(fp4 ? "code_fp4" : "code_nf4");
        var dynamic = Codes("code_dynamic");
        var (w, shape) = Input(input, table);

        using var scope = NewDisposeScope();
        using var state = FourBitQuantizer.Quantize(tensor(w).reshape(shape), fp4 ? FourBitType.Fp4 : FourBitType.Nf4, blockSize, doubleQuant);
        float? offset = state.Nested?.Offset;
        var expected = ScalarReference.Quantize(w, table, fp4, blockSize, doubleQuant, dynamic, offset);

        Assert.Equal(expected.Packed, Bytes(state.Packed));
        Assert.Equal([(long)expected.Packed.Length, 1L], state.Packed.shape);
        if (doubleQuant)
        {
            double mean = expected.Absmax.Average(a => (double)a);
            Assert.True(Math.Abs(offset!.Value - mean) <= 1e-6 * Math.Abs(mean), $"offset {offset} vs mean {mean}");
            Assert.Equal(expected.AbsmaxIndices, Bytes(state.Absmax));
            AssertBitsEqual(Bits(expected.NestedAbsmax!), Bits(state.Nested!.Absmax), "nested absmax");
        }
        else
        {
            AssertBitsEqual(Bits(expected.Absmax), Bits(state.Absmax), "absmax");
        }
        var dequant = FourBitQuantizer.Dequantize(state);
        Assert.Equal(shape, dequant.shape);
        AssertBitsEqual(Bits(expected.Dequant), Bits(dequant), "dequant");
    }

    [Fact]
    public void ValueOnAMidpointTakesTheLowerCode()
    {
        var nf4 = Codes("code_nf4");
        float mid = (nf4[7] + nf4[8]) / 2f;
        using var scope = NewDisposeScope();
        using var state = FourBitQuantizer.Quantize(tensor(new[] { 1f, mid, -1f, 0f }), FourBitType.Nf4, 64);
        // indices 15, 7 | 0, 7: the midpoint between codes 7 and 8 takes 7
        Assert.Equal(new byte[] { 0xF7, 0x07 }, Bytes(state.Packed));
    }

    [Fact]
    public void Fp4ZerosAndTinyValuesTakeIndexZeroOrEight()
    {
        using var scope = NewDisposeScope();
        using var state = FourBitQuantizer.Quantize(tensor(new[] { 1f, 0f, -1e-30f, 1e-30f, -0f }), FourBitType.Fp4, 64);
        // 1 -> 3; 0 and tiny negatives -> 0; tiny positives -> 8; -0 -> 0; the pad (0) -> 0
        Assert.Equal(new byte[] { 0x30, 0x08, 0x00 }, Bytes(state.Packed));
        Assert.All(Floats(FourBitQuantizer.Dequantize(state)).Skip(1), v => Assert.Equal(0, BitConverter.SingleToInt32Bits(v)));
    }

    [Fact]
    public void ShortLastBlockOfZerosStoresTheFloorAsAbsmax()
    {
        using var scope = NewDisposeScope();
        using var state = FourBitQuantizer.Quantize(zeros(64 + 3), FourBitType.Nf4, 64);
        Assert.Equal([0f, 1e-38f], Floats(state.Absmax));
    }
}
