using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>Root-mean-square norm as Llama and T5 compute it: statistics in float32, then scaled by weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(long size, double eps) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size));
        _eps = eps;
        RegisterComponents();
    }

    /// <summary>The epsilon added to the mean square; copies of the norm (LN tuning) are made with the same.</summary>
    public double Eps => _eps;

    public override Tensor forward(Tensor x)
    {
        var dtype = x.dtype;
        var xf = x.to(ScalarType.Float32);
        var normed = xf.mul(xf.pow(2).mean([-1], keepdim: true).add(_eps).rsqrt());
        return weight.mul(normed.to(dtype));
    }
}
