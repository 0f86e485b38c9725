using PeftSharp.IO;
using PeftSharp.Models.Gpt2;
using TorchSharp;

namespace PeftSharp.Tuners.AdaLora;

/// <summary>AdaLoRA's registration: each target gets an <see cref="AdaLoraLayer"/> of the rank its mask kept (init_r before allocation).</summary>
public sealed class AdaLoraTuner : ITuner
{
    public MethodDescription Description { get; } = new()
    {
        PeftType = "ADALORA",
        Name = "adalora",
        Title = "AdaLoRA",
        Summary = "an SVD-shaped low-rank update whose rank budget is reallocated to the layers that matter during training",
        Trains = false,
        Mergeable = true,
        Uses = SharedInputs.Rank | SharedInputs.Alpha | SharedInputs.Dropout | SharedInputs.Targets,
        DefaultTargets = Lora.LoraDefaults.Targets,
    };

    public PeftConfig ReadConfig(JsonConfig json) => AdaLoraConfig.Read(json);

    public IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (AdaLoraConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, Description);
        return TargetWrapping.Wrap(root, config.Targets, config.ModulesToSave ?? [], LinearBase.IsLinear,
            (module, _) =>
            {
                if (module is Conv1D) config.FanInFanOut = true;
                return new AdaLoraLayer(module);
            },
            (layer, name) => layer.AddAdapter(adapter, config.RankOf(name), config));
    }
}
