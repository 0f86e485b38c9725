using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// The module surface a TorchSharp or PEFT user reaches for: <c>train()</c>, <c>eval()</c>, <c>parameters()</c>,
/// <c>named_parameters()</c> under PEFT's names and <c>to(device or dtype)</c>, plus the forward with labels
/// (<see cref="PeftModel.Forward"/> with <see cref="Models.ModelInputs.Labels"/> returns the loss).
/// <para>
/// PeftModel exposes these as methods rather than deriving from <c>nn.Module</c>: it is a view over the caller's
/// model, not its owner. The model stays the caller's module, which <see cref="PeftModel.Unload"/> and
/// <see cref="PeftModel.MergeAndUnload"/> hand back intact; an <c>nn.Module</c> would own every registered tensor, so
/// disposing the PeftModel (or the GC finalising it) would free the base model's weights under the caller, and its
/// <c>state_dict</c>/<c>load</c> would read and write a format PEFT does not (PEFT's adapter files are
/// <see cref="PeftModel.Save"/> and <see cref="PeftModel.Load"/>). Everything here delegates to the model's tree,
/// where the adapter layers and their dropouts live, so a mode or a move reaches them too.
/// </para>
/// </summary>
public sealed partial class PeftModel
{
    /// <summary>PEFT's prefix of a parameter name: PeftModel.base_model (the tuner) . model (the wrapped model).</summary>
    public const string ParameterPrefix = AdapterKeys.Prefix;

    /// <summary>Whether the model (adapters included) is in training mode.</summary>
    public bool training => Model.training;

    /// <summary>Training mode for the whole model: base, adapter layers and their dropouts. Returns this, as torch does.</summary>
    public PeftModel train(bool train = true)
    {
        Model.train(train);
        return this;
    }

    /// <summary>Evaluation mode for the whole model (dropout off everywhere), so two passes give the same output.</summary>
    public PeftModel eval() => train(false);

    /// <summary>
    /// Every parameter by the name Python's <c>PeftModel.named_parameters()</c> gives it: "base_model.model." + the
    /// path in the model, the adapter's inside its layer ("...c_attn.lora_A.default.weight", "...c_attn.base_layer.weight",
    /// "...classifier.modules_to_save.default.weight"); then the model-level adapters' tensors, under
    /// "prompt_encoder.&lt;adapter&gt;." + their key. Frozen ones included; filter on requires_grad for an optimizer.
    /// </summary>
    public IEnumerable<(string name, Parameter parameter)> named_parameters() =>
        Model.named_parameters().Select(p => (ParameterPrefix + p.name, p.parameter))
            .Concat(_modelAdapters.SelectMany(kv => kv.Value.Parameters.Select(p => ($"prompt_encoder.{kv.Key}.{p.Key}", p.Parameter))));

    /// <summary>Every parameter, frozen ones included (those that train have requires_grad).</summary>
    public IEnumerable<Parameter> parameters() => named_parameters().Select(p => p.parameter);

    /// <summary>Moves the model, adapters included, to a device. Make the optimizer afterwards: a move replaces parameters.</summary>
    public PeftModel to(Device device) => Move(m => m.to(device));

    /// <summary>Converts the model's floating tensors, adapters included, to a dtype. Make the optimizer afterwards.</summary>
    public PeftModel to(ScalarType dtype) => Move(m => m.to(dtype));

    /// <summary>
    /// TorchSharp's move replaces each Parameter object, so the base's original requires_grad flags (restored by
    /// <see cref="Unload"/>) are carried over by name. Model-level adapters hold tensors outside the module tree
    /// that nothing here could move, so a move with one is refused rather than leaving them behind.
    /// </summary>
    private PeftModel Move(Action<nn.Module> move)
    {
        if (_modelAdapters.Count > 0)
            throw new PeftException($"adapter \"{_modelAdapters.Keys.First()}\" acts on the model's inputs and cannot be moved after it is added; move the model first, then add the adapter");
        var original = Model.named_parameters().Where(p => _originalRequiresGrad.ContainsKey(p.parameter))
            .ToDictionary(p => p.name, p => _originalRequiresGrad[p.parameter], StringComparer.Ordinal);
        move(Model);
        _originalRequiresGrad.Clear();
        foreach (var (name, p) in Model.named_parameters())
            if (original.TryGetValue(name, out var requiresGrad)) _originalRequiresGrad[p] = requiresGrad;
        return this;
    }
}
