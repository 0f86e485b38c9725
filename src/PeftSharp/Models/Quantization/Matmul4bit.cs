using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// y = x Wᵀ (+ b) for a <see cref="Linear4bit"/>, with its own backward, as bitsandbytes' MatMul4Bit: autograd keeps only
/// the layer (its 4-bit buffers), not the dequantized W, and the backward dequantizes again, ∂L/∂x = (∂L/∂y) W. A plain
/// nn.functional.linear would save the float W of every layer for the backward pass, which is the full-precision copy
/// of the base that 4 bits are meant to avoid. No gradient goes to W or b (frozen).
/// </summary>
internal sealed class Matmul4bit : autograd.SingleTensorFunction<Matmul4bit>
{
    public override string Name => nameof(Matmul4bit);

    /// <summary>vars: the input x, the <see cref="Linear4bit"/>, whether to add its bias.</summary>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var layer = (Linear4bit)vars[1];
        ctx.save_data("layer", layer);
        ctx.save_data("dtype", x.dtype);
        return layer.Compute(x, (bool)vars[2]);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        var layer = (Linear4bit)ctx.get_data("layer");
        var dtype = (ScalarType)ctx.get_data("dtype");
        using var scope = NewDisposeScope();
        var weight = layer.ComputeWeight(grad.device);
        var gradInput = grad.to(weight.dtype).matmul(weight).to(dtype);
        return [gradInput.MoveToOuterDisposeScope(), null!, null!];
    }
}
