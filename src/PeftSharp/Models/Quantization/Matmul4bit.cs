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
        Tensor gradInput;
        using (NewDisposeScope())
        {
            var weight = layer.ComputeWeight(grad.device);
            gradInput = grad.to(weight.dtype).matmul(weight).to(dtype).DetachFromDisposeScope();
        }
        // TorchSharp hands the backward a new handle to the incoming gradient and copies the returned one into the
        // graph, both registered in whatever dispose scope is open (the training step's). Left there, every layer's
        // gradients would stay alive until the step ends (about 35 MB a layer at 2048 x 5632, 256 tokens), so the
        // handles are let go here: the incoming one now, the returned one at the next backward call on this thread.
        grad.Dispose();
        Handed.Replace(gradInput);
        return [gradInput, null!, null!];
    }

    /// <summary>The gradient the last backward returned: by the next call, libtorch holds its own reference to it.</summary>
    private static class Handed
    {
        [ThreadStatic] private static Tensor? _last;

        public static void Replace(Tensor next)
        {
            _last?.Dispose();
            _last = next;
        }
    }
}
