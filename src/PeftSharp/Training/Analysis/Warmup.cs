using PeftSharp.Data;
using PeftSharp.Models;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// A few AdamW steps on some parameters over the sample, in shuffled batches: the head fit before the gradient estimators
/// and LoRA-drop's warm-up. Dropout stays off, as in the measurements that follow, so a seed gives the same result.
/// </summary>
internal static class Warmup
{
    /// <summary>Runs <paramref name="steps"/> steps; returns the mean loss of the first and the last tenth of them.</summary>
    public static (double First, double Last) Run(PretrainedModel model, TaskKind kind, IReadOnlyList<(string Name, Parameter Parameter)> trainable,
        IReadOnlyList<TokenizedExample> sample, Collator collator, int batchSize, int steps, double lr, long seed, Device device, Action<int, int>? progress)
    {
        model.eval();
        foreach (var (_, p) in trainable) p.requires_grad = true;
        using var optimizer = new AdamW(ParamGroups.Standard(model, trainable, lr, 0));
        var loader = new DataLoader(sample, collator, Math.Min(batchSize, sample.Count), seed);
        var losses = new List<double>();
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            using var tensors = loader.Next().ToTensors(device);
            optimizer.ZeroGrad();
            losses.Add(TrainingStep.ForwardBackward(model, kind, tensors, 1.0));
            optimizer.Step();
            progress?.Invoke(step + 1, steps);
        }
        foreach (var (_, p) in trainable) p.requires_grad = false;
        int tenth = Math.Max(1, steps / 10);
        return steps == 0 ? (double.NaN, double.NaN) : (losses.Take(tenth).Average(), losses.TakeLast(tenth).Average());
    }
}
