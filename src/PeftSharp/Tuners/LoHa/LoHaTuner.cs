using PeftSharp.IO;
using TorchSharp;
using TorchSharp.Modules;

namespace PeftSharp.Tuners.LoHa;

/// <summary>LoHa's registration: wraps each targeted nn.Linear (as PEFT: not Conv1D) in a <see cref="LoHaLayer"/>.</summary>
public sealed class LoHaTuner : ITuner
{
    public string PeftType => "LOHA";

    public PeftConfig ReadConfig(JsonConfig json) => LoHaConfig.Read(json);

    public IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (LoHaConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, "LoHa");
        return TargetWrapping.Wrap(root, config.Targets, config.ModulesToSave ?? [], m => m is Linear, (m, _) => new LoHaLayer(m),
            (layer, name) =>
            {
                var (rank, alpha) = config.For(name);
                layer.AddAdapter(adapter, rank, alpha, config);
            });
    }
}
