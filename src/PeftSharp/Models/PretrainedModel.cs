using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// A transformer built from a Hugging Face config whose parameter names equal the checkpoint's keys,
/// so loading is a one-to-one copy and adapters can address modules by the names PEFT uses.
/// Subclasses describe what the loader must know: the base-model prefix that some checkpoints omit,
/// tied parameters that are stored once, and checkpoint keys that are safe to ignore.
/// <para>
/// Every public entry point runs the <see cref="ForwardHooks"/> once: <see cref="forward"/> is sealed and calls
/// <see cref="Forward(PreparedInputs)"/>; the other entry points (ForwardHidden, BeginLayers, Encode) call
/// <see cref="Prepare"/>, and the backbones only accept <see cref="PreparedInputs"/>.
/// </para>
/// </summary>
public abstract class PretrainedModel : nn.Module<ModelInputs, ModelOutput>
{
    private IForwardHook[] _hooks = [];

    protected PretrainedModel(string name, ModelConfig config) : base(name)
    {
        Config = config;
    }

    public ModelConfig Config { get; }

    /// <summary>The transformers class this module reproduces, e.g. GPT2LMHeadModel.</summary>
    public abstract string ArchitectureName { get; }

    /// <summary>Name of the backbone submodule ("transformer", "model", "bert"); checkpoints of the bare backbone omit it.</summary>
    public abstract string BaseModelPrefix { get; }

    /// <summary>Parameters that share storage with another (alias name to source name), absent from checkpoints.</summary>
    public virtual IReadOnlyDictionary<string, string> TiedParameters => new Dictionary<string, string>();

    /// <summary>Checkpoint keys that older exports carry and that this implementation does not need.</summary>
    public virtual IReadOnlyList<Regex> IgnorableCheckpointKeys => [];

    /// <summary>
    /// Modules a checkpoint may lack because it holds only the backbone (bert-base-uncased under a classification config,
    /// a bare decoder under an untied lm_head). As transformers does, loading gives them a fresh initialisation and a
    /// warning instead of refusing the folder; any other missing tensor is still an error. Empty when the model has none.
    /// </summary>
    public virtual IReadOnlyList<string> TaskHeadModules => [];

    /// <summary>
    /// Parameters that were not in the checkpoint and were initialised randomly when it was loaded (a new task head);
    /// empty for a complete checkpoint. Recorded so that PeftModel can tell whether an adapter replaces them.
    /// </summary>
    public IReadOnlyList<string> FreshParameters { get; internal set; } = [];

    /// <summary>The head that maps hidden states to outputs; "all-linear" adapter targeting leaves it alone. Null for a bare encoder.</summary>
    public virtual string? OutputHeadName => "lm_head";

    /// <summary>The token embedding, for id validation, prompt methods and resizing.</summary>
    public abstract TorchSharp.Modules.Embedding InputEmbeddings { get; }

    /// <summary>Number of attention layers, i.e. entries a KV cache (and a <see cref="KeyValuePrefix"/>) needs.</summary>
    public abstract int LayerCount { get; }

    /// <summary>The device of the model's parameters.</summary>
    public Device Device => parameters().First().device;

    /// <summary>The floating dtype of the model's parameters.</summary>
    public ScalarType DType => parameters().First().dtype;

    /// <summary>Applied in order to the inputs of every public entry point (PeftModel installs its active adapter's here).</summary>
    public IReadOnlyList<IForwardHook> ForwardHooks
    {
        get => _hooks;
        set => _hooks = value.ToArray();
    }

    /// <summary>The forward pass; with <see cref="ModelInputs.Labels"/> the output carries the loss (<see cref="LabelLoss"/>).</summary>
    public sealed override ModelOutput forward(ModelInputs inputs)
    {
        var output = Forward(Prepare(inputs));
        if (inputs.Labels is not { } labels) return output;
        var logits = output.Logits ?? throw new PeftException($"{ArchitectureName} has no head, so labels cannot be scored; use a model with a task head");
        return output.WithLoss(LabelLoss.For(this, logits, labels));
    }

    /// <summary>The architecture's forward pass on inputs the hooks have already seen.</summary>
    protected abstract ModelOutput Forward(PreparedInputs inputs);

    /// <summary>Runs the hooks; the only maker of <see cref="PreparedInputs"/>. Call once per entry point.</summary>
    protected PreparedInputs Prepare(ModelInputs inputs)
    {
        foreach (var hook in _hooks) inputs = hook.Prepare(this, inputs);
        return new PreparedInputs(inputs);
    }
}
