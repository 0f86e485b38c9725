using PeftSharp.Models.Common;
using PeftSharp.Tuners;
using TorchSharp;
using TorchSharp.Modules;

namespace PeftSharp.Training;

/// <summary>
/// Which parameters get weight decay: all but biases and normalisation weights, the rule transformers'
/// Trainer uses, because decaying a norm's scale or a bias toward zero hurts and regularises nothing.
/// </summary>
public static class WeightDecay
{
    public static bool Applies(torch.nn.Module root, string parameterName)
    {
        if (parameterName.EndsWith(".bias", StringComparison.Ordinal) || parameterName == "bias") return false;
        int dot = parameterName.LastIndexOf('.');
        if (dot < 0) return true;
        var owner = ModuleTree.Get(root, parameterName[..dot]);
        return owner is not (LayerNorm or RmsNorm or GroupNorm or BatchNorm1d);
    }
}
