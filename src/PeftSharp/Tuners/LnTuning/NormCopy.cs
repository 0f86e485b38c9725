using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.LnTuning;

/// <summary>
/// The deep copy PEFT's LN tuning makes of each targeted module (<c>copy.deepcopy</c>): same type, same settings, its
/// own parameters equal to the original's. TorchSharp has no generic deep copy, so norms are rebuilt here and the
/// other types people copy (Linear, Conv1D, Embedding) go through <see cref="ModuleCopy"/>.
/// </summary>
public static class NormCopy
{
    public static bool CanCopy(nn.Module m) => m is LayerNorm or RmsNorm || LinearBase.IsLinear(m) || m is Embedding;

    public static nn.Module<Tensor, Tensor> Clone(nn.Module module, string name)
    {
        using var _ = no_grad();
        nn.Module<Tensor, Tensor> copy;
        switch (module)
        {
            case LayerNorm l:
                copy = nn.LayerNorm(l.normalized_shape, l.eps, l.elementwise_affine, l.bias is not null, l.weight?.device, l.weight?.dtype);
                break;
            case RmsNorm r:
                var w = r.named_parameters().Single().parameter;
                copy = new RmsNorm(w.shape[0], r.Eps).to(w.dtype).to(w.device);
                break;
            case Linear or Models.Gpt2.Conv1D or Embedding:
                return ModuleCopy.Clone(module, name);
            default:
                throw new PeftException($"LN tuning: \"{name}\" is a {module.GetType().Name}; PeftSharp copies LayerNorm, RMSNorm, Linear, Conv1D and Embedding modules");
        }
        var source = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (n, p) in copy.named_parameters()) p.copy_(source[n]);
        return copy;
    }
}
