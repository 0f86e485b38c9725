using TorchSharp;
using TorchSharp.Modules;
using ParamGroup = PeftSharp.Training.ParamGroup;

namespace PeftSharp.Training;

/// <summary>The usual split of trainable parameters: with weight decay, and without (biases, norms).</summary>
public static class ParamGroups
{
    public static IReadOnlyList<ParamGroup> Standard(torch.nn.Module root, IEnumerable<(string Name, Parameter Parameter)> trainable, double lr, double weightDecay)
    {
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        foreach (var (name, p) in trainable) (WeightDecay.Applies(root, name) ? decay : noDecay).Add((name, p));
        var groups = new List<ParamGroup>();
        if (decay.Count > 0) groups.Add(new ParamGroup("decay", decay, lr, weightDecay));
        if (noDecay.Count > 0) groups.Add(new ParamGroup("no_decay", noDecay, lr, 0));
        if (groups.Count == 0) throw new PeftException("no trainable parameters: nothing for the optimizer to update");
        return groups;
    }
}
