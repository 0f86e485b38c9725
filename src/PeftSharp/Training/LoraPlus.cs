using PeftSharp.Models;
using PeftSharp.Tuners;
using TorchSharp.Modules;

namespace PeftSharp.Training;

/// <summary>
/// LoRA+ (Hayou et al., 2024): the B matrices learn loraplus_lr_ratio times faster than A, which
/// speeds up and improves LoRA training. Parameter groups follow PEFT's create_loraplus_optimizer:
/// lora_B and 1-d parameters get the higher rate, embedding adapters a rate of their own. An optimizer matter, so it
/// lives with the optimizer's parameter groups; it recognises B matrices by PEFT's parameter name, as PEFT does.
/// </summary>
public static class LoraPlus
{
    public static IReadOnlyList<ParamGroup> Groups(PeftModel model, double lr, double loraPlusLrRatio = 16, double weightDecay = 0, double embeddingLr = 1e-6)
    {
        if (loraPlusLrRatio <= 0) throw new PeftException($"loraplus_lr_ratio must be positive, got {loraPlusLrRatio}");
        var a = new List<(string, Parameter)>();
        var b = new List<(string, Parameter)>();
        var bNoDecay = new List<(string, Parameter)>();
        var embedding = new List<(string, Parameter)>();
        foreach (var (name, p) in model.TrainableNamedParameters())
        {
            int dot = name.LastIndexOf('.');
            var owner = dot < 0 ? model.Model : ModuleTree.Get(model.Model, name[..dot]);
            if (owner is Embedding) embedding.Add((name, p));
            else if (name.Contains("lora_B", StringComparison.Ordinal) || p.dim() == 1)
                (WeightDecay.Applies(model.Model, name) ? b : bNoDecay).Add((name, p));
            else a.Add((name, p));
        }
        var groups = new List<ParamGroup>();
        if (a.Count > 0) groups.Add(new ParamGroup("lora_A", a, lr, weightDecay));
        if (embedding.Count > 0) groups.Add(new ParamGroup("embedding", embedding, embeddingLr, weightDecay));
        if (b.Count > 0) groups.Add(new ParamGroup("lora_B", b, lr * loraPlusLrRatio, weightDecay));
        if (bNoDecay.Count > 0) groups.Add(new ParamGroup("lora_B_no_decay", bNoDecay, lr * loraPlusLrRatio, 0));
        if (groups.Count == 0) throw new PeftException("no trainable parameters: nothing for the optimizer to update");
        return groups;
    }
}
