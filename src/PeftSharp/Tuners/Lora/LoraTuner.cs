using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Models.Gpt2;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Lora;

/// <summary>LoRA's registration: wraps each targeted linear layer in a <see cref="LoraLayer"/>.</summary>
public sealed class LoraTuner : ITuner
{
    public string PeftType => "LORA";

    public PeftConfig ReadConfig(JsonConfig json) => LoraConfig.Read(json);

    public string BiasMode(PeftConfig config) => ((LoraConfig)config).Bias;

    public PeftConfig ForLoading(PeftConfig config)
    {
        var c = (LoraConfig)config;
        var json = JsonConfig.Parse(c.ToJson(), "adapter config");
        var copy = LoraConfig.Read(json);
        copy.InitLoraWeights = "true";
        return copy;
    }

    public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (LoraConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, "LoRA");
        var names = TargetSelector.Select(root, config.Targets, m => LinearBase.IsLinear(m) || m is LoraLayer, config.ModulesToSave ?? []);
        if (config.Targets.IsAllLinear)
        {
            var all = ModuleTree.NamedModules(root).Select(m => m.Name).Where(n => n.Length > 0).ToList();
            config.Targets = config.Targets with { TargetRegex = null, TargetList = TargetSelector.Resolved(names, all) };
        }
        return TargetWrapping.Wrap(root, names,
            (module, _) =>
            {
                if (module is Conv1D) config.FanInFanOut = true;
                return new LoraLayer(module);
            },
            (layer, name) =>
            {
                var (rank, alpha) = config.For(name);
                layer.AddAdapter(adapter, rank, alpha, config);
            });
    }
}
