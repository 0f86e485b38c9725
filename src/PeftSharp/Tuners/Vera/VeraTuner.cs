using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Models.Gpt2;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Vera;

/// <summary>VeRA's registration: one pair of shared projections per adapter, a <see cref="VeraLayer"/> per target.</summary>
public sealed class VeraTuner : ITuner
{
    public string PeftType => "VERA";

    public PeftConfig ReadConfig(JsonConfig json) => VeraConfig.Read(json);

    public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (VeraConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, "VeRA");
        var names = TargetSelector.Select(root, config.Targets, m => LinearBase.IsLinear(m) || m is VeraLayer, config.ModulesToSave ?? []);
        var bases = names.Select(n => ModuleTree.Get(root, n) switch
        {
            VeraLayer v => v.Base,
            var m => LinearBase.TryCreate(m)!,
        }).ToList();
        long maxIn = bases.Max(b => b.InFeatures), maxOut = bases.Max(b => b.OutFeatures);
        var (a, b) = Projections(config, maxIn, maxOut, bases[0].Weight.dtype, bases[0].Weight.device);

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
