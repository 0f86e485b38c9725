using System.Globalization;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Options;
using TorchSharp;

namespace PeftSharp.Tuners.Bottleneck;

/// <summary>
/// Bottleneck adapters' registration: wraps the output projection of each chosen sublayer (the module whose output
/// feeds the residual add) in a <see cref="BottleneckLayer"/>. PeftSharp's own method: Python PEFT has no such type.
/// </summary>
public sealed class BottleneckTuner : ITuner
{
    public const string MethodName = "bottleneck";

    public static readonly MethodOption<int> ReductionFactor = new(MethodName, "reduction_factor", 16,
        new OptionAttribute("The bottleneck width is the hidden size divided by this (16: hidden 768 gives 48)") { Min = 1, Max = 1 << 16 });

    public static readonly MethodOption<string> Placement = new(MethodName, "placement", BottleneckConfig.Houlsby,
        new OptionAttribute("Where adapters go without target_modules: houlsby (after attention and the feed-forward block) or pfeiffer (after the feed-forward block only)")
        { Choices = BottleneckConfig.Placements });

    public static readonly MethodOption<string> NonLinearity = new(MethodName, "non_linearity", "relu",
        new OptionAttribute("The nonlinearity between the adapter's down- and up-projection") { Choices = BottleneckConfig.NonLinearities });

    /// <summary>
    /// Houlsby's targets per model_type: the attention output projection(s) and the feed-forward output projection.
    /// BERT's "output.dense" names both (attention.output.dense and the layer's output.dense); T5's decoder has a
    /// cross-attention too, and gets an adapter after it.
    /// </summary>
    private static readonly Dictionary<string, IReadOnlyList<string>> HoulsbyTargets = new(StringComparer.Ordinal)
    {
        ["gpt2"] = ["attn.c_proj", "mlp.c_proj"],
        ["llama"] = ["self_attn.o_proj", "mlp.down_proj"],
        ["mistral"] = ["self_attn.o_proj", "mlp.down_proj"],
        ["qwen2"] = ["self_attn.o_proj", "mlp.down_proj"],
        ["bert"] = ["output.dense"],
        ["t5"] = ["SelfAttention.o", "EncDecAttention.o", "DenseReluDense.wo"],
    };

    /// <summary>Pfeiffer's: the feed-forward output projection only. BERT's takes a regex, as its name is a suffix of the attention's.</summary>
    private static readonly Dictionary<string, TargetSpec> PfeifferTargets = new(StringComparer.Ordinal)
    {
        ["gpt2"] = new() { TargetList = ["mlp.c_proj"] },
        ["llama"] = new() { TargetList = ["mlp.down_proj"] },
        ["mistral"] = new() { TargetList = ["mlp.down_proj"] },
        ["qwen2"] = new() { TargetList = ["mlp.down_proj"] },
        ["bert"] = new() { TargetRegex = @".*\.layer\.\d+\.output\.dense" },
        ["t5"] = new() { TargetList = ["DenseReluDense.wo"] },
    };

    public MethodDescription Description { get; } = new()
    {
        PeftType = BottleneckConfig.Type,
        Name = MethodName,
        Title = "Bottleneck adapters",
        Summary = "small trained bottleneck modules (down-projection, nonlinearity, up-projection) added after attention and/or the feed-forward block (Houlsby, Pfeiffer); PeftSharp's own file format",
        Trains = true,
        Mergeable = false,
        NotMergeableBecause = BottleneckLayer.NotMergeable,
        ReadByPythonPeft = false,
        Uses = SharedInputs.Dropout | SharedInputs.Targets,
        DefaultTargets = HoulsbyTargets.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
        Options = [ReductionFactor, Placement, NonLinearity],
    };

    public PeftConfig ReadConfig(JsonConfig json) => BottleneckConfig.Read(json);

    public PeftConfig CreateConfig(MethodSettings s) => s.Common(new BottleneckConfig
    {
        Targets = s.Targets,
        ReductionFactor = ReductionFactor.Get(s.Options),
        Placement = Placement.Get(s.Options),
        NonLinearity = NonLinearity.Get(s.Options),
        AdapterDropout = s.Dropout,
    });

    public string Describe(MethodSettings s) => string.Create(CultureInfo.InvariantCulture,
        $"{Description.Title} ({Placement.Get(s.Options)}, reduction factor {ReductionFactor.Get(s.Options)}, {NonLinearity.Get(s.Options)}), dropout {s.Dropout:G6}");

    public IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (BottleneckConfig)peftConfig;
        config.Targets = WithDefaults(root, config);
        return TargetWrapping.Wrap(root, config.Targets, config.ModulesToSave ?? [], LinearBase.IsLinear,
            (module, _) => new BottleneckLayer(module), (layer, _) => layer.AddAdapter(adapter, config));
    }

    /// <summary>The targets given, else the placement's for the model_type (keeping exclude_modules and layers_to_transform).</summary>
    private TargetSpec WithDefaults(torch.nn.Module root, BottleneckConfig config)
    {
        if (config.Targets.HasTargets || config.Placement == BottleneckConfig.Houlsby)
            return TargetWrapping.WithDefaults(root, config.Targets, Description);
        var modelType = (root as PretrainedModel)?.Config.ModelType
            ?? throw new PeftException($"{Description.Title}: target_modules is required for this model");
        if (!PfeifferTargets.TryGetValue(modelType, out var d))
            throw new PeftException($"no default {Description.Title} targets (placement pfeiffer) for model_type \"{modelType}\": give target_modules");
        return config.Targets with { TargetList = d.TargetList, TargetRegex = d.TargetRegex };
    }
}
