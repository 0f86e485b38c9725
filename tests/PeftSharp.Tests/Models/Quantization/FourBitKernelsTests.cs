using PeftSharp.Models.Quantization;
using static PeftSharp.Tests.Models.Quantization.Nf4Fixtures;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>
/// The fused CPU kernels of a 4-bit layer: dequantization bit for bit equal to <see cref="ScalarReference"/> on both the
/// AVX-512 and the scalar path, the matrix-vector product within float32 rounding of a double-precision sum over the
/// same dequantized weight (and the same bytes on every call), and the per-thread scratch buffer that the layers share
/// giving each its own weight.
/// </summary>
public class FourBitKernelsTests
{
    public static TheoryData<string, int, bool, bool> DequantCases()
    {
        var data = new TheoryData<string, int, bool, bool>();
        foreach (var type in new[] { "nf4", "fp4" })
            foreach (var dq in new[] { false, true })
                foreach (var vector in new[] { true, false })
                    foreach (var bs in new[] { 32, 64, 256, 4096 })
                        data.Add(type, bs, dq, vector);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(DequantCases))]
    public void DequantizeEqualsTheScalarReference(string typeName, int blockSize, bool doubleQuant, bool vector)
    {
        Skip.If(vector && !FourBitKernels.HasVectorPath, "this CPU has no AVX-512");
        bool fp4 = typeName == "fp4";
        var table = Codes(fp4 ? "code_fp4" : "code_nf4");
        // 37 rows of 4096: many blocks of every size, an uneven split between threads, outliers in some blocks
        var w = Normal(37 * 4096, blockSize, 0.03f).Select((v, i) => i % 911 == 0 ? v * 30 : v).ToArray();
        using var scope = NewDisposeScope();
        using var state = FourBitQuantizer.Quantize(tensor(w).reshape(37, 4096), fp4 ? FourBitType.Fp4 : FourBitType.Nf4, blockSize, doubleQuant);
        Assert.True(FourBitKernels.CanDequantize(state));
        var expected = ScalarReference.Quantize(w, table, fp4, blockSize, doubleQuant, Codes("code_dynamic"), state.Nested?.Offset);
        bool was = FourBitKernels.IsVectorized;
        try
        {
            FourBitKernels.IsVectorized = vector;
            var ours = FourBitKernels.Dequantize(state, FourBitQuantizer.BlockScales(state));
            Assert.Equal([37L, 4096L], ours.shape);
            AssertBitsEqual(Bits(expected.Dequant), Bits(ours), $"{typeName} block {blockSize}{(doubleQuant ? " dq" : "")} {(vector ? "AVX-512" : "scalar")}");
        }
        finally
        {
            FourBitKernels.IsVectorized = was;
        }
    }

    [Fact]
    public void RefusesWhatItCannotTake()
    {
        using var scope = NewDisposeScope();
        using var partial = FourBitQuantizer.Quantize(randn(5, 40), FourBitType.Nf4, 64, false); // 200 values: a short last block
        Assert.False(FourBitKernels.CanDequantize(partial));
        Assert.Throws<ArgumentException>(() => FourBitKernels.Dequantize(partial, partial.Absmax));
        using var whole = FourBitQuantizer.Quantize(randn(4, 64), FourBitType.Nf4, 64, false);
        Assert.Throws<ArgumentException>(() => FourBitKernels.DequantizeInto(whole, whole.Absmax, zeros(255)));
        Assert.False(FourBitKernels.CanMatVec(whole, randn(9, 64)));             // more rows than the kernel takes
        Assert.False(FourBitKernels.CanMatVec(whole, randn(2, 64).to(ScalarType.Float64)));
        using var straddling = FourBitQuantizer.Quantize(randn(8, 96), FourBitType.Nf4, 64, false); // blocks cross rows
        Assert.False(FourBitKernels.CanMatVec(straddling, randn(1, 96)));
    }

    public static TheoryData<string, int, bool, bool> MatVecCases()
    {
        var data = new TheoryData<string, int, bool, bool>();
        foreach (var (type, dq) in new[] { ("nf4", false), ("nf4", true), ("fp4", false) })
            foreach (var rows in new[] { 1, 3, 8 })
                foreach (var bias in new[] { false, true })
                    data.Add(type, rows, dq, bias);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(MatVecCases))]
    public void MatVecIsTheProductWithTheDequantizedWeight(string typeName, int rows, bool doubleQuant, bool withBias)
    {
        Skip.IfNot(FourBitKernels.IsVectorized, "the matrix-vector kernel needs AVX-512");
        using var scope = NewDisposeScope();
        manual_seed(rows * 10 + (withBias ? 1 : 0));
        const int outF = 70, inF = 256;
        using var state = FourBitQuantizer.Quantize(randn(outF, inF).mul(0.05), typeName == "fp4" ? FourBitType.Fp4 : FourBitType.Nf4, 64, doubleQuant);
        var x = randn(1, rows, inF);
        var bias = withBias ? randn(outF) : null;
        Assert.True(FourBitKernels.CanMatVec(state, x));
        var scales = FourBitQuantizer.BlockScales(state);
        var y = FourBitKernels.MatVec(state, scales, x, bias);
        Assert.Equal([1L, rows, outF], y.shape);

        // double precision over the same float32 weight values; the bound is float32 rounding of a sum of inF products
        var w = Unpacked(state, scales, typeName == "fp4" ? "code_fp4" : "code_nf4").to(ScalarType.Float64);
        var x64 = x.reshape(rows, inF).to(ScalarType.Float64);
        var reference = x64.matmul(w.t());
        if (bias is not null) reference = reference.add(bias.to(ScalarType.Float64));
        var magnitude = x64.abs().matmul(w.abs().t()).add(1e-30);
        var error = y.reshape(rows, outF).to(ScalarType.Float64).sub(reference).abs().div(magnitude).max().item<double>();
        Assert.True(error < 1e-5, $"relative error {error}");
        Assert.Equal(Bits(y), Bits(FourBitKernels.MatVec(state, scales, x, bias))); // deterministic
    }

    /// <summary>The dequantized weight by plain tensor ops written here: nibbles, table lookup, per-block scale.</summary>
    private static Tensor Unpacked(QuantState state, Tensor scales, string code)
    {
        var bytes = state.Packed.reshape(-1).to(ScalarType.Int64);
        var low = bytes.remainder(16L);
        var high = bytes.sub(low).div(16L, RoundingMode.trunc);
        var index = stack([high, low], 1).reshape(-1);
        var values = tensor(Codes(code)).index_select(0, index);
        return values.view(-1, state.BlockSize).mul(scales.view(-1, 1)).view(state.Shape);
    }

    [SkippableFact]
    public void ALayerOnAFewRowsTakesTheKernelAndAgreesWithTheFloatLayer()
    {
        Skip.IfNot(FourBitKernels.IsVectorized, "the matrix-vector kernel needs AVX-512");
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var layer = new Linear4bit(FourBitQuantizer.Quantize(randn(96, 128).mul(0.05), FourBitType.Nf4, 64, true), randn(96));
        var w = layer.DequantizedWeight();
        foreach (var rows in new[] { 1, 2, 8, 9 })
        {
            var x = randn(rows, 128);
            Tensor y;
            using (no_grad()) y = layer.forward(x);
            var reference = nn.functional.linear(x, w, layer.Bias);
            Assert.True(y.sub(reference).abs().max().item<float>() < 1e-5f * (reference.abs().max().item<float>() + 1), $"{rows} rows");
        }
    }

    [Fact]
    public void LayersSharingTheScratchBufferEachGetTheirOwnWeight()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var a = new Linear4bit(FourBitQuantizer.Quantize(randn(192, 64).mul(0.05), FourBitType.Nf4, 64, false));
        using var b = new Linear4bit(FourBitQuantizer.Quantize(randn(32, 192).mul(0.05), FourBitType.Fp4, 64, true));
        var wa = a.DequantizedWeight();
        var wb = b.DequantizedWeight();
        var x = randn(12, 64).requires_grad_(true);
        b.forward(a.forward(x).tanh()).square().sum().backward();
        var x2 = x.detach().clone().requires_grad_(true);
        nn.functional.linear(nn.functional.linear(x2, wa).tanh(), wb).square().sum().backward();
        AssertBitsEqual(Bits(x2.grad!), Bits(x.grad!), "input gradient through two layers");
    }
}
