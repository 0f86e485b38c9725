using PeftSharp.IO;
using PeftSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.LoHa;

/// <summary>LoHa's registration: wraps each targeted nn.Linear in a <see cref="LoHaLayer"/>.</summary>
public sealed class LoHaTuner : ITuner
{
    public string PeftType => "LOHA";

    public PeftConfig ReadConfig(JsonConfig json) => LoHaConfig.Read(json);

    public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (LoHaConfig)peftConfig;
        if (!config.Targets.HasTargets)
        {
            var modelType = (root as PretrainedModel)?.Config.ModelType;
            var defaults = modelType is null ? null : Lora.LoraDefaults.For(modelType)
                ?? throw new PeftException($"no default LoHa targets for model_type \"{modelType}\": give target_modules");
            config.Targets = config.Targets with { TargetList = defaults ?? throw new PeftException("target_modules is required for this model") };
        }
        var names = TargetSelector.Select(root, config.Targets, m => m is Linear or LoHaLayer, config.ModulesToSave ?? []);
        var replacements = new List<ModuleTree.Replacement>();
        foreach (var name in names)
        {
            var module = ModuleTree.Get(root, name);
            var (rank, alpha) = config.For(name);
            if (module is LoHaLayer existing)
            {
                existing.AddAdapter(adapter, rank, alpha, config);
                continue;
            }
            var layer = new LoHaLayer((nn.Module<Tensor, Tensor>)module);
            layer.AddAdapter(adapter, rank, alpha, config);
            replacements.Add(ModuleTree.Replace(root, name, layer));
        }
        return replacements;
    }
}
