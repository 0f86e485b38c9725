using PeftSharp.IO;
using PeftSharp.Models;
using TorchSharp;

namespace PeftSharp.Tuners.BitFit;

/// <summary>
/// BitFit's registration: every module with a bias (or, with target_modules, every targeted one) gets a
/// <see cref="BitFitLayer"/> whose copy of the bias trains; nothing else does. PeftSharp's own method: Python PEFT has
/// no such type and cannot load its files.
/// </summary>
public sealed class BitFitTuner : ITuner
{
    public MethodDescription Description { get; } = new()
    {
        PeftType = BitFitConfig.Type,
        Name = "bitfit",
        Title = "BitFit",
        Summary = "trains only the bias terms (Ben Zaken et al. 2021), all of them or those of target_modules; mergeable; PeftSharp's own file format",
        Trains = true,
        Mergeable = true,
        ReadByPythonPeft = false,
        // target_modules narrows it, but its default is every bias rather than modules per model_type, so the
        // shared "targets" line of the report would mislead: Describe says which biases instead.
        Uses = SharedInputs.None,
    };

    public PeftConfig ReadConfig(JsonConfig json) => BitFitConfig.Read(json);

    public PeftConfig CreateConfig(MethodSettings s) => s.Common(new BitFitConfig { Targets = s.Targets });

    public string Describe(MethodSettings s) => s.Targets switch
    {
        { TargetRegex: { } regex } => $"BitFit (biases of modules matching {regex})",
        { TargetList: { Count: > 0 } list } => $"BitFit (biases of {string.Join(", ", list)})",
        _ => "BitFit (all biases)",
    };

    private static bool HasBias(torch.nn.Module m) => m is torch.nn.Module<torch.Tensor, torch.Tensor> && BitFitLayer.BiasOf(m) is not null;

    /// <summary>Whether name is the original another method's wrapper runs in its forward (so a bias shift there takes part).</summary>
    private static bool IsRunOriginal(torch.nn.Module root, string name, torch.nn.Module wrapper) =>
        wrapper is AdapterLayer { RunsBaseLayer: true } layer and not BitFitLayer && ReferenceEquals(ModuleTree.Get(root, name), layer.BaseLayer);

    public IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig peftConfig)
    {
        var config = (BitFitConfig)peftConfig;
        if (!ModuleTree.NamedModules(root).Any(m => m.Module is BitFitLayer || HasBias(m.Module)))
            throw new PeftException($"BitFit trains bias terms, and this {(root as PretrainedModel)?.Config.ModelType ?? root.GetType().Name} model has none");
        var saved = config.ModulesToSave ?? [];
        var spec = config.AllBiases ? config.Targets with { TargetRegex = ".*" } : config.Targets;
        // modules_to_save train whole (a new classifier): their bias is theirs, not BitFit's. Modules inside a wrapper
        // (another method's factors, copies) are the wrapper's own, except the original it runs (LoRA's base_layer):
        // its bias gets a copy under the wrapper, at <module>.base_layer, so a method and BitFit train together.
        var wrappers = ModuleTree.NamedModules(root).Where(m => m.Module is IAdapterLayer && m.Name.Length > 0).ToList();
        var names = TargetSelector.Select(root, spec, m => m is BitFitLayer || HasBias(m), saved)
            .Where(n => !saved.Any(s => n == s || n.EndsWith("." + s, StringComparison.Ordinal)))
            .Where(n => !wrappers.Any(w => n.StartsWith(w.Name + ".", StringComparison.Ordinal) && !IsRunOriginal(root, n, w.Module))).ToList();
        if (names.Count == 0) throw new PeftException("BitFit: no module with a bias is left to train once modules_to_save and wrapped modules are set aside");
        return TargetWrapping.Wrap(root, names, (module, name) => new BitFitLayer(module, name), (layer, _) => layer.AddAdapter(adapter));
    }
}
