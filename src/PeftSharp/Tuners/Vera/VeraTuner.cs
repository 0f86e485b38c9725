using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Models.Gpt2;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Vera;

/// <summary>VeRA's registration: one pair of shared projections per adapter, a <see cref="VeraLayer"/> per target.</summary>
public sealed class VeraTuner : ITuner
{
    public MethodDescription Description { get; } = new()
    {
        PeftType = "VERA",
        Name = "vera",
        Title = "VeRA",
        Summary = "frozen random projections shared by all layers, two trained scaling vectors per layer",
        Trains = true,
        Mergeable = true,
        Uses = SharedInputs.Rank | SharedInputs.Dropout | SharedInputs.Targets,
        DefaultTargets = Lora.LoraDefaults.Targets,
    };

    public PeftConfig ReadConfig(JsonConfig json) => VeraConfig.Read(json);

    /// <summary>The projections are drawn from the run's seed, so a run's adapter is reproducible from its config.</summary>
    public PeftConfig CreateConfig(MethodSettings s) =>
        s.Common(new VeraConfig { R = s.Rank, VeraDropout = s.Dropout, ProjectionPrngKey = s.Seed, Targets = s.Targets });

    public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (VeraConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, Description);
        var names = TargetSelector.Select(root, config.Targets, m => LinearBase.IsLinear(m) || m is VeraLayer, config.ModulesToSave ?? []);
        var bases = names.Select(n => ModuleTree.Get(root, n) switch
        {
            VeraLayer v => v.Base,
            var m => LinearBase.TryCreate(m)!,
        }).ToList();
        long maxIn = bases.Max(b => b.InFeatures), maxOut = bases.Max(b => b.OutFeatures);
        var (a, b) = Projections(config, maxIn, maxOut, bases[0].DType, bases[0].Device);

        return TargetWrapping.Wrap(root, names,
            (module, _) =>
            {
                if (module is Conv1D) config.FanInFanOut = true;
                return new VeraLayer(module);
            },
            (layer, _) => layer.AddAdapter(adapter, a, b, config));
    }

    /// <summary>Kaiming-uniform projections drawn from a generator seeded with projection_prng_key, as PEFT does.</summary>
    private static (Tensor A, Tensor B) Projections(VeraConfig config, long maxIn, long maxOut, ScalarType dtype, Device device)
    {
        using var generator = new torch.Generator((ulong)config.ProjectionPrngKey);
        Tensor Kaiming(long rows, long cols)
        {
            double bound = Math.Sqrt(3.0) * Math.Sqrt(2.0) / Math.Sqrt(cols);
            return empty(rows, cols).uniform_(-bound, bound, generator).to(dtype, device).DetachFromDisposeScope();
        }
        var a = Kaiming(config.R, maxIn);
        var b = Kaiming(maxOut, config.R);
        return (a, b);
    }
}
