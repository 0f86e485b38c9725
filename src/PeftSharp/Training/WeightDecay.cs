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
        // Model-level adapter tensors (prompt_encoder.*) have no module in the model's tree: plain weights, they decay.
        var owner = root;
        foreach (var part in parameterName[..dot].Split('.'))
        {
            var child = owner.named_children().FirstOrDefault(c => c.name == part).module;
            if (child is null) return true;
            owner = child;
        }
        return owner is not (LayerNorm or RmsNorm or GroupNorm or BatchNorm1d);
    }
}
