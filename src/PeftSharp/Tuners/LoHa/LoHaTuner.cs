using PeftSharp.Models;
using PeftSharp.IO;
using TorchSharp;
using TorchSharp.Modules;

namespace PeftSharp.Tuners.LoHa;

/// <summary>LoHa's registration: wraps each targeted nn.Linear (as PEFT: not Conv1D) in a <see cref="LoHaLayer"/>.</summary>
public sealed class LoHaTuner : ITuner
{
    public MethodDescription Description { get; } = new()
    {
        PeftType = "LOHA",
        Name = "loha",
        Title = "LoHa",
        Summary = "the Hadamard product of two low-rank products as each nn.Linear's update (more expressive per parameter)",
        Trains = true,
        Mergeable = true,
        Uses = SharedInputs.Rank | SharedInputs.Alpha | SharedInputs.Targets,
        DefaultTargets = Lora.LoraDefaults.Targets,
    };

    public PeftConfig ReadConfig(JsonConfig json) => LoHaConfig.Read(json);

    public PeftConfig CreateConfig(MethodSettings s) => s.Common(new LoHaConfig { R = s.Rank, Alpha = s.Alpha, Targets = s.Targets, Patterns = s.Patterns });

    /// <summary>Two Hadamard-multiplied low-rank pairs: 2 r (in + out).</summary>
    public long? AdapterParameters(MethodSettings s, long inFeatures, long outFeatures, int rank) => 2L * rank * (inFeatures + outFeatures);

    public IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (LoHaConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, Description);
        return TargetWrapping.Wrap(root, config.Targets, config.ModulesToSave ?? [], m => m is Linear, (m, _) => new LoHaLayer(m),
            (layer, name) =>
            {
                var (rank, alpha) = config.For(name);
                layer.AddAdapter(adapter, rank, alpha, config);
            });
    }
}
