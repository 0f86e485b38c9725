using PeftSharp.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Lora;

/// <summary>
/// LoRA+ (Hayou et al., 2024): the B matrices learn loraplus_lr_ratio times faster than A, which
/// speeds up and improves LoRA training. Parameter groups follow PEFT's create_loraplus_optimizer:
/// lora_B and 1-d parameters get the higher rate, embedding adapters a rate of their own.
/// </summary>
public static class LoraPlus
{
    public sealed record Groups(IReadOnlyList<(string Name, Parameter P)> A, IReadOnlyList<(string Name, Parameter P)> B,
        IReadOnlyList<(string Name, Parameter P)> BNoDecay, IReadOnlyList<(string Name, Parameter P)> Embedding);

    public static Groups Split(PeftModel model)
    {
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
        return new Groups(a, b, bNoDecay, embedding);
    }

    public static optim.Optimizer CreateAdamW(PeftModel model, double lr, double loraPlusLrRatio = 16, double weightDecay = 0,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double embeddingLr = 1e-6)
    {
        if (loraPlusLrRatio <= 0) throw new PeftException($"loraplus_lr_ratio must be positive, got {loraPlusLrRatio}");
        var g = Split(model);
        var groups = new List<AdamW.ParamGroup>();
        void Add(IReadOnlyList<(string Name, Parameter P)> ps, double groupLr, double decay)
        {
            if (ps.Count > 0) groups.Add(new AdamW.ParamGroup(ps.Select(x => x.P), groupLr, beta1, beta2, eps, decay));
        }
        Add(g.A, lr, weightDecay);
        Add(g.Embedding, embeddingLr, weightDecay);
        Add(g.B, lr * loraPlusLrRatio, weightDecay);
        Add(g.BNoDecay, lr * loraPlusLrRatio, 0);
        if (groups.Count == 0) throw new PeftException("no trainable parameters: nothing for the optimizer to update");
        return optim.AdamW(groups, lr, beta1, beta2, eps, weightDecay);
    }
}
