using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Models.Gpt2;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.IA3;

/// <summary>IA3's registration: wraps each targeted linear layer in an <see cref="IA3Layer"/>.</summary>
public sealed class IA3Tuner : ITuner
{
    /// <summary>PEFT's defaults per model type: targets, and which of them are feed-forward.</summary>
    private static readonly Dictionary<string, (string[] Targets, string[] Feedforward)> Defaults = new(StringComparer.Ordinal)
    {
        ["gpt2"] = (["c_attn", "mlp.c_proj"], ["mlp.c_proj"]),
        ["llama"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["mistral"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["qwen2"] = (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
        ["bert"] = (["key", "value", "output.dense"], ["output.dense"]),
        ["t5"] = (["k", "v", "wo"], ["wo"]),
    };

    public MethodDescription Description { get; } = new()
    {
        PeftType = "IA3",
        Name = "ia3",
        Title = "IA3",
        Summary = "trained vectors that rescale attention keys and values and feed-forward inputs (fewest parameters)",
        Trains = true,
        Mergeable = true,
        Uses = SharedInputs.Targets,
        DefaultTargets = Defaults.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value.Targets, StringComparer.Ordinal),
    };

    public Combination.IAdapterCombiner? Combiner { get; } = new IA3Combiner();

    public PeftConfig ReadConfig(JsonConfig json) => IA3Config.Read(json);

    public PeftConfig CreateConfig(MethodSettings s) => s.Common(new IA3Config { Targets = s.Targets });

    public PeftConfig ForLoading(PeftConfig config)
    {
        var copy = IA3Config.Read(JsonConfig.Parse(config.ToJson(), "adapter config"));
        copy.InitIA3Weights = true;
        return copy;
    }

    public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (IA3Config)peftConfig;
        if (!config.Targets.HasTargets)
        {
            var modelType = (root as PretrainedModel)?.Config.ModelType;
            if (modelType is null || !Defaults.TryGetValue(modelType, out var d))
                throw new PeftException($"no default IA3 targets for model_type \"{modelType}\": give target_modules and feedforward_modules");
            config.Targets = config.Targets with { TargetList = d.Targets };
            config.FeedforwardList ??= d.Feedforward;
        }
        return TargetWrapping.Wrap(root, config.Targets, config.ModulesToSave ?? [], LinearBase.IsLinear,
            (module, name) =>
            {
                if (module is Conv1D) config.FanInFanOut = true;
                return new IA3Layer(module, config.IsFeedforward(name));
            },
            (layer, _) => layer.AddAdapter(adapter, config.InitIA3Weights));
    }
}
