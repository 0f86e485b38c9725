using TorchSharp.Modules;

namespace PeftSharp.Training;

/// <summary>Parameters that share a learning rate and weight decay (LoRA+ and weight-decay rules make several).</summary>
public sealed class ParamGroup(string name, IReadOnlyList<(string Name, Parameter Parameter)> parameters, double baseLearningRate, double weightDecay)
{
    public string Name { get; } = name;
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters { get; } = parameters;
    public double BaseLearningRate { get; } = baseLearningRate;
    /// <summary>The rate used by the next step: base rate times the schedule's factor.</summary>
    public double LearningRate { get; set; } = baseLearningRate;
    public double WeightDecay { get; } = weightDecay;
}
