using PeftSharp.IO;
using PeftSharp.Models;
using TorchSharp;
using TorchSharp.Modules;

namespace PeftSharp.Tuners;

/// <summary>
/// One parameter-efficient method (LoRA, IA3, ...): what it is (<see cref="Description"/>), how to read its config, how
/// to build one for training, and how to put its layers into a model.
/// </summary>
/// <remarks>
/// Adding a method (nothing in Training/ or Cli/ changes; the architecture test guards that):
/// <list type="number">
/// <item>A folder Tuners/&lt;Method&gt;/ with its config (a <see cref="PeftConfig"/> that reads and writes PEFT's
/// adapter_config.json fields), its layer (an <see cref="IAdapterLayer"/>, usually deriving from the shared base, with
/// the formula in its doc comment), and its tuner (this interface).</item>
/// <item>The tuner's <see cref="Description"/>: peft_type, CLI name, title, one-line summary, trains or loads only,
/// mergeable, shared options used, default targets per model_type, and its own options as
/// <see cref="Options.MethodOption{T}"/> fields (they become config keys, flags and help lines by themselves).</item>
/// <item><see cref="CreateConfig"/> if it trains here; <see cref="Describe"/> for the report's method line.</item>
/// <item>One row in <see cref="TunerRegistry"/>.</item>
/// <item>Its PEFT fixtures join the parity table (tests/.../AdapterFixtureParityTests) by themselves once registered.</item>
/// </list>
/// </remarks>
public interface ITuner
{
    MethodDescription Description { get; }
    /// <summary>peft_type as written in adapter_config.json ("LORA").</summary>
    string PeftType => Description.PeftType;
    PeftConfig ReadConfig(JsonConfig json);
    /// <summary>A config for a new adapter to train, from the run's settings (only for methods that train here).</summary>
    PeftConfig CreateConfig(MethodSettings settings) =>
        throw new PeftException($"{Description.Title} adapters load, run and save, but training them is not implemented");
    /// <summary>The method's name for these settings, as a report title ("LoRA", or "DoRA" with use_dora).</summary>
    string Title(MethodSettings settings) => Description.Title;

    /// <summary>
    /// The parameters this method trains on one linear layer of [in, out] at a rank, honouring rank_pattern, so that
    /// automatic targets can spend a parameter budget module by module; null (the default) when the method has no
    /// per-module rank to spend it on.
    /// </summary>
    long? AdapterParameters(MethodSettings settings, long inFeatures, long outFeatures, int rank) => null;
    /// <summary>The run report's method line for these settings ("LoRA r=8, alpha=16, dropout 0.05; rsLoRA scaling").</summary>
    string Describe(MethodSettings settings) => SharedDescription(Description, settings, Title(settings));
    /// <summary>Wraps the target modules of root (or extends existing wrappers) with a new adapter.</summary>
    IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig config);
    /// <summary>Parameters of the base model that train and are saved with the adapter (LoRA's bias="all").</summary>
    IEnumerable<(string Name, Parameter Parameter)> TrainedBaseParameters(torch.nn.Module root, PeftConfig config) => [];
    /// <summary>A copy of the config to inject with when loading saved weights (no initialisation that rewrites the base).</summary>
    PeftConfig ForLoading(PeftConfig config) => config;
    /// <summary>
    /// Called when an adapter loaded from a file has its saved tensors in place (never when the file does not fit, so a
    /// failed load leaves the base untouched). For saved tensors that fit only a base their initialisation rewrote (LoRA's
    /// PiSSA/OLoRA in residual form), this rewrites the given base the same way, as PEFT does at load.
    /// </summary>
    void AfterLoading(torch.nn.Module root, string adapter, PeftConfig config) { }
    /// <summary>
    /// What <see cref="PeftModel.Save"/> writes for an adapter in the <see cref="AdapterSaveForm.Portable"/> form: its config
    /// and tensors (under their saved keys). The default is the adapter as held. A method whose trained tensors fit only a
    /// base its initialisation rewrote returns an equivalent adapter for the original base (LoRA's PiSSA/OLoRA); new tensors
    /// belong to the caller's dispose scope, and the config given must not change.
    /// </summary>
    (PeftConfig Config, IReadOnlyDictionary<string, torch.Tensor> Tensors) ForSaving(
        torch.nn.Module root, string adapter, PeftConfig config, IReadOnlyDictionary<string, torch.Tensor> tensors) => (config, tensors);
    /// <summary>Things to tell the user about an adapter loaded from a file with this config (PeftModel.Warnings).</summary>
    IEnumerable<string> LoadingWarnings(PeftConfig config) => [];
    /// <summary>
    /// The adapter's model-level part (tensors no wrapper layer holds, and the forward hook that uses them), or null
    /// for a method that is only wrapper layers. Called after <see cref="Inject"/>, for PeftSharp models only.
    /// </summary>
    IModelAdapter? CreateModelAdapter(PretrainedModel model, string adapter, PeftConfig config) => null;
    /// <summary>
    /// What the method does while its adapter trains beyond the forward pass (a loss term, work after each optimizer step),
    /// or null for nothing. Asked once per trainable adapter, through <see cref="PeftModel.Training"/>.
    /// </summary>
    IAdapterTraining? CreateTraining(PeftModel peft, string adapter, PeftConfig config) => null;
    /// <summary>
    /// The prefix of saved keys for base-model modules (modules_to_save copies, trained base parameters). PEFT writes
    /// "base_model.model." under a tuner model; prompt-learning models wrap the base directly and write "base_model.".
    /// </summary>
    string SavedModulePrefix => AdapterKeys.Prefix;
    /// <summary>
    /// How this method's adapters combine into a new one (<see cref="PeftModel.AddWeightedAdapter(IReadOnlyList{string}, IReadOnlyList{double}, string, Combination.AdapterCombination)"/>), or null (the default)
    /// for a method whose adapters cannot be combined.
    /// </summary>
    Combination.IAdapterCombiner? Combiner => null;
    /// <summary>Whether this adapter's update can be folded into the base weights (never for a model-level part).</summary>
    bool CanMerge(PeftConfig config) => Description.Mergeable;

    /// <summary>The title with the shared options the method uses: "LoHa r=8, alpha=16".</summary>
    static string SharedDescription(MethodDescription d, MethodSettings s, string? title = null)
    {
        static string N(double x) => x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
        var parts = new List<string>();
        if (d.Uses.HasFlag(SharedInputs.Rank)) parts.Add($"r={s.Rank}");
        if (d.Uses.HasFlag(SharedInputs.Alpha)) parts.Add($"alpha={N(s.Alpha)}");
        if (d.Uses.HasFlag(SharedInputs.Dropout)) parts.Add($"dropout {N(s.Dropout)}");
        return parts.Count == 0 ? title ?? d.Title : $"{title ?? d.Title} {string.Join(", ", parts)}";
    }
}
