using PeftSharp.IO;
using PeftSharp.Models;
using TorchSharp;

namespace PeftSharp.Tuners;

/// <summary>
/// One parameter-efficient method (LoRA, IA3, ...): how to read its config and how to put its layers
/// into a model. A new method is a folder with its config, layer and an ITuner, plus a row in <see cref="TunerRegistry"/>.
/// </summary>
public interface ITuner
{
    /// <summary>peft_type as written in adapter_config.json ("LORA").</summary>
    string PeftType { get; }
    PeftConfig ReadConfig(JsonConfig json);
    /// <summary>Wraps the target modules of root (or extends existing wrappers) with a new adapter.</summary>
    IEnumerable<ModuleTree.Replacement> Inject(torch.nn.Module root, string adapter, PeftConfig config);
    /// <summary>"none", "all" or "lora_only": base biases that train with the adapter.</summary>
    string BiasMode(PeftConfig config) => "none";
    /// <summary>A copy of the config to inject with when loading saved weights (no initialisation that rewrites the base).</summary>
    PeftConfig ForLoading(PeftConfig config) => config;
    /// <summary>
    /// The adapter's model-level part (tensors no wrapper layer holds, and the forward hook that uses them), or null
    /// for a method that is only wrapper layers. Called after <see cref="Inject"/>, for PeftSharp models only.
    /// </summary>
    IModelAdapter? CreateModelAdapter(PretrainedModel model, string adapter, PeftConfig config) => null;
    /// <summary>Whether the adapter's update can be folded into the base weights (never for a model-level part).</summary>
    bool CanMerge(PeftConfig config) => true;
}
