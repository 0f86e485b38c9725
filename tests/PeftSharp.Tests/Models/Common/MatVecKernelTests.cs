using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Common;

/// <summary>
/// The few-rows x Wᵀ kernel behind tied output heads: within float32 rounding of a double-precision product for every
/// tail of the 32- and 16-lane loops, the same bytes on every call and for any thread count, and taken only where no
/// gradient has to be recorded and the rows are few (else nn.functional.linear, bit for bit).
/// </summary>
public class MatVecKernelTests
{
    public static TheoryData<int, int, int, bool> Shapes()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (var k in new[] { 1, 15, 16, 17, 31, 32, 48, 100, 768 })
            foreach (var (n, rows) in new[] { (1, 1), (7, 3), (200, 8), (1031, 1) })
                data.Add(k, n, rows, k % 2 == 0);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void AgreesWithADoublePrecisionProduct(int k, int n, int rows, bool bias)
    {
        Skip.IfNot(MatVecKernel.IsEnabled, "the kernel needs AVX-512");
        using var scope = NewDisposeScope();
        manual_seed(k * 1000 + n);
        var x = randn(rows, 1, k);
        var w = randn(n, k);
        var b = bias ? randn(n) : null;
        using var noGrad = no_grad();
        Assert.True(MatVecKernel.Takes(x, w, b));
        var y = MatVecKernel.Linear(x, w, b);
        Assert.Equal([(long)rows, 1, n], y.shape);
        var exact = nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64), b?.to(ScalarType.Float64));
        // float32 sums of k products: error about k * 2^-24 of the sum of |products|.
        var bound = nn.functional.linear(x.abs().to(ScalarType.Float64), w.abs().to(ScalarType.Float64)).mul(k * 1.2e-7).add(1e-30);
        var err = y.to(ScalarType.Float64).sub(exact).abs();
        Assert.True(err.le(bound.add(b is null ? 0 : 1e-7)).all().item<bool>(), $"k {k} n {n}: max error {err.max().item<double>():E2}");
    }

    [SkippableFact]
    public void GivesTheSameBytesOnEveryCallAndForAnyThreadCount()
    {
        Skip.IfNot(MatVecKernel.IsEnabled, "the kernel needs AVX-512");
        using var scope = NewDisposeScope();
        manual_seed(1);
        var x = randn(8, 300);
        var w = randn(5000, 300);
        using var noGrad = no_grad();
        var first = MatVecKernel.Linear(x, w).bytes.ToArray();
        Assert.Equal(first, MatVecKernel.Linear(x, w).bytes.ToArray());
        int threads = get_num_threads();
        try
        {
            set_num_threads(1);
            Assert.Equal(first, MatVecKernel.Linear(x, w).bytes.ToArray());
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    [SkippableFact]
    public void IsTakenOnlyWithoutAGradientToRecordAndForFewFloat32Rows()
    {
        Skip.IfNot(MatVecKernel.IsEnabled, "the kernel needs AVX-512");
        using var scope = NewDisposeScope();
        var w = randn(64, 32).requires_grad_();
        var x = randn(2, 32);
        Assert.False(MatVecKernel.Takes(x, w, null)); // training: the head's weight needs its gradient
        using (no_grad())
        {
            Assert.True(MatVecKernel.Takes(x, w, null));
            Assert.True(MatVecKernel.Takes(randn(2, 4, 32), w, null));
            Assert.False(MatVecKernel.Takes(randn(9, 32), w, null));
            Assert.False(MatVecKernel.Takes(x.to(ScalarType.BFloat16), w.to(ScalarType.BFloat16), null));
            Assert.False(MatVecKernel.Takes(x, randn(32, 64).t(), null)); // not contiguous
            Assert.False(MatVecKernel.Takes(randn(2, 31), w, null));
        }
        // Where it is not taken the result is nn.functional.linear's, bit for bit, and gradients flow.
        var many = randn(9, 32);
        var y = MatVecKernel.Linear(many, w);
        Assert.True(y.eq(nn.functional.linear(many, w)).all().item<bool>());
        y.sum().backward();
        Assert.NotNull(w.grad);
    }

    [SkippableFact]
    public void ATiedHeadUsesItInGenerationAndStaysExactInTraining()
    {
        Skip.IfNot(MatVecKernel.IsEnabled, "the kernel needs AVX-512");
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var embedding = nn.Embedding(1000, 64);
        using var head = new TiedLinear(embedding);
        var h = randn(1, 1, 64);
        var reference = nn.functional.linear(h, embedding.weight!);
        Assert.True(head.forward(h).eq(reference).all().item<bool>()); // grad mode on, weight trainable: libtorch
        using var noGrad = no_grad();
        var y = head.forward(h);
        Assert.True(y.sub(reference).abs().max().item<float>() < 1e-5f);
        Assert.Equal(reference.argmax(-1).item<long>(), y.argmax(-1).item<long>());
    }
}
