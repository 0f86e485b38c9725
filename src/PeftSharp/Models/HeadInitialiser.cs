using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Initialises the task-head parameters a backbone checkpoint lacks as transformers' _init_weights does for a Linear
/// (weight ~ N(0, initializer_range), bias 0). The draws come from a local generator with a fixed seed, so the same
/// folder always loads to the same model, and the process-wide generator (dropout masks, a training run's seed) is
/// left where it was.
/// </summary>
internal static class HeadInitialiser
{
    public const ulong Seed = 0;

    /// <summary>Fills the named tensors in the order given; a name ending in "bias" gets zeros.</summary>
    public static void Initialise(PretrainedModel model, IReadOnlyList<(string Name, Tensor Target)> parameters)
    {
        if (parameters.Count == 0) return;
        double std = InitializerRange(model.Config);
        using var generator = new Generator(Seed);
        using var _ = no_grad();
        foreach (var (name, target) in parameters)
        {
            using var scope = NewDisposeScope();
            // Drawn in float32 on the CPU, then copied: the values do not depend on the model's device or dtype.
            if (name.EndsWith("bias", StringComparison.Ordinal)) target.zero_();
            else target.copy_(empty(target.shape, ScalarType.Float32).normal_(0, std, generator));
        }
    }

    /// <summary>The line that tells the user which tensors are untrained and what to do about it.</summary>
    public static string Warning(string source, IReadOnlyList<string> names) =>
        $"{source}: {string.Join(", ", names)} {(names.Count == 1 ? "is" : "are")} not in the checkpoint; initialised randomly (seed {Seed}): " +
        $"train {(names.Count == 1 ? "it" : "them")}, or load an adapter that saves {(names.Count == 1 ? "it" : "them")} in modules_to_save";

    private static double InitializerRange(ModelConfig config)
    {
        double std = config.Raw.GetDouble("initializer_range", 0.02)!.Value;
        if (!(std > 0) || double.IsInfinity(std))
            throw new PeftException($"{config.Raw.Source}: \"initializer_range\" must be a positive number, got {std}");
        return std;
    }
}
