using PeftSharp.Models;
using PeftSharp.IO;
using TorchSharp;

namespace PeftSharp.Tuners.LnTuning;

/// <summary>
/// LN tuning's registration (PEFT's LN_TUNING): every targeted module (by default the model's norms) gets a trainable
/// copy in an <see cref="LnTuningLayer"/>; nothing else of the base trains. Saved as PEFT saves it, loadable there.
/// </summary>
public sealed class LnTuningTuner : ITuner
{
    /// <summary>
    /// PEFT's TRANSFORMERS_MODELS_TO_LNTUNING_TARGET_MODULES_MAPPING for the model types PeftSharp runs, plus BERT's
    /// LayerNorm modules, for which PEFT has no entry (it asks for target_modules). The resolved names are written to
    /// target_modules, so Python PEFT loads such an adapter all the same.
    /// </summary>
    private static readonly Dictionary<string, IReadOnlyList<string>> Defaults = new(StringComparer.Ordinal)
    {
        ["gpt2"] = ["ln_1", "ln_2", "ln_f"],
        ["llama"] = ["input_layernorm", "post_attention_layernorm", "norm"],
        ["mistral"] = ["input_layernorm", "post_attention_layernorm", "norm"],
        ["qwen2"] = ["post_attention_layernorm"],
        ["t5"] = ["layer_norm", "final_layer_norm"],
        ["mt5"] = ["layer_norm", "final_layer_norm"],
        ["bert"] = ["LayerNorm"],
    };

    public MethodDescription Description { get; } = new()
    {
        PeftType = LnTuningConfig.Type,
        Name = "ln-tuning",
        Title = "LN tuning",
        Summary = "trains copies of the model's LayerNorm/RMSNorm modules only (Zhao et al. 2023); merging puts the trained norms in place",
        Trains = true,
        Mergeable = true,
        Uses = SharedInputs.Targets,
        DefaultTargets = Defaults.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
    };

    public PeftConfig ReadConfig(JsonConfig json) => LnTuningConfig.Read(json);

    public PeftConfig CreateConfig(MethodSettings s)
    {
        if (s.Targets.LayersToTransform is not null || s.Targets.LayersPattern is not null)
            throw new PeftException("LN tuning has no layers_to_transform or layers_pattern (PEFT's LN_TUNING config has neither): choose the norms with target_modules");
        return s.Common(new LnTuningConfig
        {
        Targets = new TargetSpec
        {
            TargetList = s.Targets.TargetList, TargetRegex = s.Targets.TargetRegex,
            ExcludeList = s.Targets.ExcludeList, ExcludeRegex = s.Targets.ExcludeRegex,
        },
        });
    }

    public IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (LnTuningConfig)peftConfig;
        // As PEFT: the defaults for the model_type become the config's target_modules, so the saved file names them.
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, Description);
        return TargetWrapping.Wrap(root, config.Targets, config.ModulesToSave ?? [], NormCopy.CanCopy,
            (module, name) => new LnTuningLayer(module, name), (layer, _) => layer.AddAdapter(adapter));
    }
}
