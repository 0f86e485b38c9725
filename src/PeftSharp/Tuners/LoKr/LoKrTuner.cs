using PeftSharp.Models;
using PeftSharp.IO;
using TorchSharp;
using TorchSharp.Modules;

namespace PeftSharp.Tuners.LoKr;

/// <summary>LoKr's registration: wraps each targeted nn.Linear (as PEFT: not Conv1D) in a <see cref="LoKrLayer"/>.</summary>
public sealed class LoKrTuner : ITuner
{
    public MethodDescription Description { get; } = new()
    {
        PeftType = "LOKR",
        Name = "lokr",
        Title = "LoKr",
        Summary = "the Kronecker product of two small (optionally low-rank) factors as each nn.Linear's update",
        Trains = true,
        Mergeable = true,
        Uses = SharedInputs.Rank | SharedInputs.Alpha | SharedInputs.Targets,
        DefaultTargets = Lora.LoraDefaults.Targets,
    };

    public PeftConfig ReadConfig(JsonConfig json) => LoKrConfig.Read(json);

    public PeftConfig CreateConfig(MethodSettings s) => s.Common(new LoKrConfig { R = s.Rank, Alpha = s.Alpha, Targets = s.Targets });

    public IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (LoKrConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, Description);
        return TargetWrapping.Wrap(root, config.Targets, config.ModulesToSave ?? [], m => m is Linear, (m, _) => new LoKrLayer(m),
            (layer, name) =>
            {
                var (rank, alpha) = config.For(name);
                layer.AddAdapter(adapter, rank, alpha, config);
            });
    }
}
