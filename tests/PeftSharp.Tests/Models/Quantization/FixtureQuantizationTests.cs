using PeftSharp.Models.Quantization;
using static PeftSharp.Tests.Models.Quantization.Nf4Fixtures;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>
/// Quantizing each fixture matrix gives bitsandbytes' packed bytes, absmax (and nested bytes, nested absmax, offset)
/// exactly, and dequantizing gives its float32 weights bit for bit; dequantizing bitsandbytes' own stored state does too.
/// w1200x96 is the one matrix with more than 256 blocks: several nested blocks, full ones and a short last one.
/// </summary>
public class FixtureQuantizationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var m in new[] { "w96x64", "w160x96_outliers", "w45x33_partial", "w1200x96" })
            foreach (var v in new[] { "nf4", "nf4_dq", "fp4", "fp4_dq" })
                data.Add(m, v);
        return data;
    }

    private static (FourBitType Type, bool Double) Variant(string v) =>
        (v.StartsWith("nf4", StringComparison.Ordinal) ? FourBitType.Nf4 : FourBitType.Fp4, v.EndsWith("_dq", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Cases))]
    public void QuantizeMatchesBitsandbytes(string matrix, string variant)
    {
        using var scope = NewDisposeScope();
        using var file = Open(matrix);
        var (type, dq) = Variant(variant);
        var weight = file.Load("weight");
        using var state = FourBitQuantizer.Quantize(weight, type, BlockSizes.Default, dq);

        Assert.Equal(file.GetEntry($"{variant}.packed").Shape, state.Packed.shape);
        Assert.Equal(Bytes(file.Load($"{variant}.packed")), Bytes(state.Packed));
        if (dq)
        {
            Assert.Equal(ScalarType.Byte, state.Absmax.dtype);
            Assert.Equal(Bytes(file.Load($"{variant}.absmax")), Bytes(state.Absmax));
            var nested = Assert.IsType<NestedAbsmax>(state.Nested);
            AssertBitsEqual(Bits(file.Load($"{variant}.nested_absmax")), Bits(nested.Absmax), $"{matrix} {variant} nested_absmax");
            AssertBitsEqual(Bits(file.Load($"{variant}.offset")), Bits([nested.Offset]), $"{matrix} {variant} offset");
            AssertBitsEqual(Bits(file.Load($"{variant}.absmax_dequantized")), Bits(FourBitQuantizer.BlockScales(state)),
                $"{matrix} {variant} absmax_dequantized");
        }
        else
        {
            AssertBitsEqual(Bits(file.Load($"{variant}.absmax")), Bits(state.Absmax), $"{matrix} {variant} absmax");
        }
        AssertBitsEqual(Bits(file.Load($"{variant}.dequant")), Bits(FourBitQuantizer.Dequantize(state)), $"{matrix} {variant} dequant");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DequantizingBitsandbytesStateGivesItsWeights(string matrix, string variant)
    {
        using var scope = NewDisposeScope();
        using var file = Open(matrix);
        var (type, dq) = Variant(variant);
        var shape = file.GetEntry("weight").Shape;
        NestedAbsmax? nested = dq
            ? new NestedAbsmax(file.Load($"{variant}.nested_absmax"), tensor(DynamicMap.Values()), BlockSizes.Nested,
                file.Load($"{variant}.offset").item<float>())
            : null;
        using var state = new QuantState(file.Load($"{variant}.packed"), file.Load($"{variant}.absmax"), type, BlockSizes.Default,
            shape, ScalarType.Float32, nested);
        var dequant = FourBitQuantizer.Dequantize(state);
        Assert.Equal(shape, dequant.shape);
        AssertBitsEqual(Bits(file.Load($"{variant}.dequant")), Bits(dequant), $"{matrix} {variant} dequant");
    }

    /// <summary>
    /// Linear4bit on CPU is F.linear(x, dequant, bias); ours runs on another libtorch and BLAS, so the product may round
    /// differently: compared with a tolerance, the weights above are the exact check.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void LinearOnDequantizedWeightsMatchesLinearOut(string matrix, string variant)
    {
        using var scope = NewDisposeScope();
        using var file = Open(matrix);
        var (type, dq) = Variant(variant);
        using var state = FourBitQuantizer.Quantize(file.Load("weight"), type, BlockSizes.Default, dq);
        var ours = nn.functional.linear(file.Load("x"), FourBitQuantizer.Dequantize(state), file.Load("bias"));
        var reference = file.Load($"{variant}.linear_out");
        var err = ours.sub(reference).abs().div(reference.abs().add(1)).max().item<float>();
        output.WriteLine($"{matrix} {variant}: linear_out max relative difference {err:E3}");
        Assert.True(err < 1e-6, $"{matrix} {variant}: max relative difference {err:E3}");
    }
}
