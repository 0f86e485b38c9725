using PeftSharp.IO;
using TorchSharp;
using TorchSharp.Modules;

namespace PeftSharp.Tuners.LoKr;

/// <summary>LoKr's registration: wraps each targeted nn.Linear (as PEFT: not Conv1D) in a <see cref="LoKrLayer"/>.</summary>
public sealed class LoKrTuner : ITuner
{
    public string PeftType => "LOKR";

    public PeftConfig ReadConfig(JsonConfig json) => LoKrConfig.Read(json);

    public IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (LoKrConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, "LoKr");
        return TargetWrapping.Wrap(root, config.Targets, config.ModulesToSave ?? [], m => m is Linear, (m, _) => new LoKrLayer(m),
            (layer, name) =>
            {
                var (rank, alpha) = config.For(name);
                layer.AddAdapter(adapter, rank, alpha, config);
            });
    }
}
