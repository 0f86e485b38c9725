using PeftSharp.Models.Quantization;
using static PeftSharp.Tests.Models.Quantization.Nf4Fixtures;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>The frozen 4-bit linear layer: bitsandbytes' Linear4bit output, no weight gradient, input gradients.</summary>
public class Linear4bitTests
{
    [Theory]
    [InlineData("w96x64", "nf4_dq", FourBitType.Nf4, true)]
    [InlineData("w45x33_partial", "fp4", FourBitType.Fp4, false)]
    public void ForwardIsLinearOnTheDequantizedWeight(string matrix, string variant, FourBitType type, bool dq)
    {
        using var scope = NewDisposeScope();
        using var file = Open(matrix);
        using var layer = new Linear4bit(FourBitQuantizer.Quantize(file.Load("weight"), type, 64, dq), file.Load("bias"));
        var x = file.Load("x");
        Tensor y;
        using (no_grad()) y = layer.forward(x);
        // Same libtorch on both sides: exact against F.linear on bitsandbytes' dequantized weight
        AssertBitsEqual(Bits(nn.functional.linear(x, file.Load($"{variant}.dequant"), file.Load("bias"))), Bits(y), "forward");
        var reference = file.Load($"{variant}.linear_out");
        Assert.True(y.sub(reference).abs().div(reference.abs().add(1)).max().item<float>() < 1e-6);
        Assert.Equal(ScalarType.Byte, layer.get_buffer("weight")!.dtype);
    }

    [Fact]
    public void GradientsReachTheInputButNoWeight()
    {
        using var scope = NewDisposeScope();
        using var file = Open("w96x64");
        using var layer = new Linear4bit(FourBitQuantizer.Quantize(file.Load("weight"), FourBitType.Nf4, 64, true), file.Load("bias"));
        Assert.All(layer.parameters(), p => Assert.False(p.requires_grad));
        Assert.Equal(["bias"], layer.named_parameters().Select(p => p.name));

        var x = file.Load("x").requires_grad_(true);
        layer.forward(x).square().sum().backward();
        var w = file.Load("nf4_dq.dequant");
        var x2 = file.Load("x").requires_grad_(true);
        nn.functional.linear(x2, w, file.Load("bias")).square().sum().backward();
        AssertBitsEqual(Bits(x2.grad!), Bits(x.grad!), "input gradient");
        Assert.Null(layer.get_parameter("bias")!.grad);
    }

    [Fact]
    public void WithoutBiasFromALinear()
    {
        using var scope = NewDisposeScope();
        using var linear = nn.Linear(33, 45, hasBias: false);
        using var layer = Linear4bit.FromLinear(linear, FourBitType.Fp4, 32);
        Assert.Empty(layer.parameters());
        Assert.Equal(33, layer.InFeatures);
        Assert.Equal(45, layer.OutFeatures);
        var x = randn(4, 33);
        using var state = FourBitQuantizer.Quantize(linear.weight!, FourBitType.Fp4, 32);
        AssertBitsEqual(Bits(x.matmul(FourBitQuantizer.Dequantize(state).t())), Bits(layer.forward(x)), "forward");
    }

    /// <summary>
    /// TorchSharp registers the gradient handles of a custom backward in the caller's dispose scope; if they stayed
    /// there, every 4-bit layer's gradients would live until the training step ends (about 35 MB a layer of TinyLlama's
    /// shape). What the backward leaves behind must not grow with the number of layers.
    /// </summary>
    [Fact]
    public void BackwardLeavesNoPerLayerTensorsInTheCallersScope()
    {
        long LeftByBackward(int layers)
        {
            using var scope = NewDisposeScope();
            var chain = Enumerable.Range(0, layers).Select(_ =>
            {
                using var linear = nn.Linear(64, 64, hasBias: false);
                return Linear4bit.FromLinear(linear, FourBitType.Nf4, 64);
            }).ToList();
            var x = randn(8, 64).requires_grad_(true);
            var y = x;
            foreach (var layer in chain) y = layer.forward(y);
            var loss = y.sum();
            long before = Support.LiveTensors.Count;
            loss.backward();
            long left = Support.LiveTensors.Count - before;
            chain.ForEach(l => l.Dispose());
            return left;
        }
        LeftByBackward(1); // warm-up
        Assert.Equal(LeftByBackward(2), LeftByBackward(12));
    }
}
