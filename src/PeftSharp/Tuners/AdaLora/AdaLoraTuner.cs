using PeftSharp.Models;
using PeftSharp.IO;
using PeftSharp.Models.Gpt2;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.AdaLora;

/// <summary>
/// AdaLoRA's registration: each target gets an <see cref="AdaLoraLayer"/> of the rank its mask kept (init_r before
/// allocation); training adds <see cref="AdaLoraTraining"/> (regulariser and rank allocator), and a portable save cuts
/// the tensors to the kept ranks, as PEFT's save_pretrained.
/// </summary>
public sealed class AdaLoraTuner : ITuner
{
    public MethodDescription Description { get; } = new()
    {
        PeftType = "ADALORA",
        Name = AdaLoraOptions.Method,
        Title = "AdaLoRA",
        Summary = "an SVD-shaped low-rank update whose rank budget is reallocated to the layers that matter during training",
        Trains = true,
        Mergeable = true,
        Uses = SharedInputs.Alpha | SharedInputs.Dropout | SharedInputs.Targets,
        DefaultTargets = Lora.LoraDefaults.Targets,
        Options = AdaLoraOptions.All,
    };

    public PeftConfig ReadConfig(JsonConfig json) => AdaLoraConfig.Read(json);

    public PeftConfig CreateConfig(MethodSettings s) => s.Common(new AdaLoraConfig
    {
        InitR = AdaLoraOptions.InitR.Get(s.Options),
        TargetR = AdaLoraOptions.TargetR.Get(s.Options),
        LoraAlpha = s.Alpha,
        LoraDropout = s.Dropout,
        Targets = s.Targets,
        Tinit = AdaLoraOptions.Tinit.Get(s.Options),
        Tfinal = AdaLoraOptions.Tfinal.Get(s.Options),
        DeltaT = AdaLoraOptions.DeltaT.Get(s.Options),
        Beta1 = AdaLoraOptions.Beta1.Get(s.Options),
        Beta2 = AdaLoraOptions.Beta2.Get(s.Options),
        OrthRegWeight = AdaLoraOptions.OrthRegWeight.Get(s.Options),
        TotalStep = AdaLoraOptions.TotalStep.Get(s.Options),
    });

    public string Describe(MethodSettings s)
    {
        static string N(double x) => x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
        var o = s.Options;
        var total = AdaLoraOptions.TotalStep.Get(o) is { } t ? t.ToString(System.Globalization.CultureInfo.InvariantCulture) : "the run's steps";
        return $"{ITuner.SharedDescription(Description, s)}; rank {AdaLoraOptions.InitR.Get(o)} -> {AdaLoraOptions.TargetR.Get(o)} per module " +
               $"(tinit {AdaLoraOptions.Tinit.Get(o)}, tfinal {AdaLoraOptions.Tfinal.Get(o)}, deltaT {AdaLoraOptions.DeltaT.Get(o)}, total_step {total}); " +
               $"orth_reg_weight {N(AdaLoraOptions.OrthRegWeight.Get(o))}";
    }

    public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig peftConfig)
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

    public IAdapterTraining? CreateTraining(PeftModel peft, string adapter, PeftConfig config) => new AdaLoraTraining(peft, adapter, (AdaLoraConfig)config);

    /// <summary>
    /// PEFT's resize_state_dict_by_rank_pattern: every module in rank_pattern keeps the rows of A and E and the columns
    /// of B its mask marks true (a module that kept none saves empty tensors); tensors already of the kept rank (a
    /// loaded, already cut adapter) are saved as they are.
    /// </summary>
    public (PeftConfig Config, IReadOnlyDictionary<string, Tensor> Tensors) ForSaving(nn.Module root, string adapter, PeftConfig config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var c = (AdaLoraConfig)config;
        if (c.RankPattern.Count == 0) return (config, tensors);
        var result = new Dictionary<string, Tensor>(tensors, StringComparer.Ordinal);
        foreach (var (key, keep) in c.RankPattern)
        {
            var module = key.EndsWith(".lora_E", StringComparison.Ordinal) ? key[..^".lora_E".Length] : key;
            int rank = keep.Count(k => k);
            foreach (var (part, dim) in new[] { ("lora_A", 0), ("lora_E", 0), ("lora_B", 1) })
            {
                var name = AdapterKeys.Prefix + module + "." + part;
                if (!result.TryGetValue(name, out var t) || t.shape[dim] == rank) continue;
                if (t.shape[dim] != keep.Length)
                    throw new PeftException($"AdaLoRA rank_pattern of {module} has {keep.Length} entries but {name} has rank {t.shape[dim]}");
                var index = tensor(Enumerable.Range(0, keep.Length).Where(i => keep[i]).Select(i => (long)i).ToArray(), device: t.device);
                result[name] = t.detach().index_select(dim, index);
            }
        }
        return (config, result);
    }
}
