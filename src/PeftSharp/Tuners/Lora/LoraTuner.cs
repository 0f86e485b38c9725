using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Models.Gpt2;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Lora;

/// <summary>LoRA's registration: wraps each targeted linear layer in a <see cref="LoraLayer"/>.</summary>
public sealed class LoraTuner : ITuner
{
    public MethodDescription Description { get; } = new()
    {
        PeftType = "LORA",
        Name = "lora",
        Title = "LoRA",
        Summary = "a trained low-rank update B A beside each target linear layer (also rsLoRA, DoRA, PiSSA/OLoRA init)",
        Trains = true,
        Mergeable = true,
        Uses = SharedInputs.Rank | SharedInputs.Alpha | SharedInputs.Dropout | SharedInputs.Targets,
        DefaultTargets = LoraDefaults.Targets,
        Options = LoraOptions.All,
    };

    public Combination.IAdapterCombiner? Combiner { get; } = new LoraCombiner();

    public PeftConfig ReadConfig(JsonConfig json) => LoraConfig.Read(json);

    public PeftConfig CreateConfig(MethodSettings s) => s.Common(new LoraConfig
    {
        R = s.Rank,
        LoraAlpha = s.Alpha,
        LoraDropout = s.Dropout,
        UseRsLora = LoraOptions.UseRsLora.Get(s.Options),
        UseDora = LoraOptions.UseDora.Get(s.Options),
        InitLoraWeights = LoraOptions.InitLoraWeights.Get(s.Options),
        SaveResidualForm = LoraOptions.SaveResidualForm.Get(s.Options),
        Targets = s.Targets,
        Patterns = s.Patterns,
    });

    /// <summary>A and B (r x in, out x r), and DoRA's magnitude vector (out).</summary>
    public long? AdapterParameters(MethodSettings s, long inFeatures, long outFeatures, int rank) =>
        rank * (inFeatures + outFeatures) + (LoraOptions.UseDora.Get(s.Options) ? outFeatures : 0);

    public string Title(MethodSettings s) => LoraOptions.UseDora.Get(s.Options) ? "DoRA" : "LoRA";

    public string Describe(MethodSettings s)
    {
        var parts = new List<string> { ITuner.SharedDescription(Description, s, Title(s)) };
        if (LoraOptions.UseRsLora.Get(s.Options)) parts.Add("rsLoRA scaling");
        if (LoraOptions.InitLoraWeights.Get(s.Options) is var init and not "true") parts.Add($"init {init}");
        return string.Join("; ", parts);
    }

    /// <summary>bias="all": every bias of the base; "lora_only": the biases of the layers LoRA wraps.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> TrainedBaseParameters(nn.Module root, PeftConfig config) => ((LoraConfig)config).Bias switch
    {
        "all" => root.named_parameters().Where(p => p.name.EndsWith(".bias", StringComparison.Ordinal)
            && !p.name.Contains(".lora_", StringComparison.Ordinal) && !p.name.Contains(".modules_to_save.", StringComparison.Ordinal)),
        "lora_only" => ModuleTree.NamedModules(root).Where(m => m.Module is LoraLayer).SelectMany(m => ((LoraLayer)m.Module).Base.Bias is { } b
            ? new[] { ((m.Name.Length == 0 ? "" : m.Name + ".") + "base_layer.bias", b) } : []),
        _ => [],
    };

    public PeftConfig ForLoading(PeftConfig config)
    {
        var copy = ((LoraConfig)config).Copy();
        copy.InitLoraWeights = "true";
        return copy;
    }

    /// <summary>
    /// A PiSSA/OLoRA config in a file means a residual form (PEFT's unconverted file, or ours with save_residual_form): its
    /// A, B fit W - s B0 A0. As PEFT, the factorisation runs again on the given base; its A0, B0 are remembered, so saving
    /// the loaded adapter converts it.
    /// </summary>
    public void AfterLoading(nn.Module root, string adapter, PeftConfig config)
    {
        var init = ((LoraConfig)config).InitLoraWeights;
        if (!LoraInit.RewritesBase(init)) return;
        foreach (var (_, module) in ModuleTree.NamedModules(root))
            if (module is LoraLayer layer && layer.AdapterNames.Contains(adapter)) layer.RewriteBase(adapter, init);
    }

    /// <summary>PiSSA/OLoRA adapters become a plain LoRA of rank 2r on the original base, unless save_residual_form.</summary>
    public (PeftConfig Config, IReadOnlyDictionary<string, Tensor> Tensors) ForSaving(nn.Module root, string adapter, PeftConfig config, IReadOnlyDictionary<string, Tensor> tensors) =>
        config is LoraConfig c && LoraInit.RewritesBase(c.InitLoraWeights) && !c.SaveResidualForm
            ? LoraResidualConversion.Convert(root, adapter, c, tensors)
            : (config, tensors);

    public IEnumerable<string> LoadingWarnings(PeftConfig config)
    {
        if (config is LoraConfig c && LoraInit.IsRandomizedSvd(c.InitLoraWeights))
            yield return $"init_lora_weights is {c.InitLoraWeights}: its A, B fit the residual base W - s B0 A0, which PeftSharp re-derives " +
                         "with an exact SVD; if PEFT trained it, PEFT's randomized SVD gave a slightly different residual, so outputs differ " +
                         "slightly from PEFT's (PEFT's save_pretrained with path_initial_model_for_weight_conversion writes an exact plain LoRA)";
    }

    public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (LoraConfig)peftConfig;
        config.Targets = TargetWrapping.WithDefaults(root, config.Targets, Description);
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
