using PeftSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning;

/// <summary>
/// A prompt-learning adapter's model-level part: its trainable tensors and the hook that uses what they compute.
/// Either the saved tensor itself (<see cref="SavedKey"/>: virtual-token embeddings or the prefix), or, while
/// training with a reparameterisation (prefix projection, P-tuning's encoder), the encoder's tensors under
/// <c>prompt_encoder.*</c>, whose output is that tensor; the tuner's ForSaving writes the output under
/// <see cref="SavedKey"/>, as PEFT's get_prompt_embedding_to_save does, and checkpoints keep the encoder.
/// </summary>
public sealed class PromptAdapter : IModelAdapter
{
    /// <summary>PEFT's key for the saved prompt (it carries no adapter name or base_model prefix).</summary>
    public const string SavedKey = "prompt_embeddings";
    /// <summary>Prefix of the encoder's tensors while it trains (checkpoints only; PEFT files hold its output).</summary>
    public const string EncoderPrefix = "prompt_encoder.";

    private readonly IReadOnlyList<(string Key, Parameter Parameter)> _parameters;

    /// <param name="output">The saved-form tensor from the parameters by key and whether the model is training (an
    /// encoder's dropout acts only then); the identity for a held prompt.</param>
    /// <param name="hook">The method's hook, given the function that yields that tensor for each forward (its argument:
    /// the model's training flag).</param>
    public PromptAdapter(IReadOnlyList<(string Key, Tensor Initial)> parameters, Func<IReadOnlyDictionary<string, Tensor>, bool, Tensor> output,
        Func<Func<bool, Tensor>, IForwardHook> hook)
    {
        _parameters = parameters.Select(p => (p.Key, new Parameter(p.Initial.detach().clone().DetachFromDisposeScope()))).ToList();
        var byKey = _parameters.ToDictionary(p => p.Key, p => (Tensor)p.Parameter, StringComparer.Ordinal);
        Hook = hook(training => output(byKey, training));
    }

    /// <summary>An adapter holding the saved tensor itself (no encoder): the hook reads it as it is.</summary>
    public static PromptAdapter Held(Tensor initial, Func<Func<bool, Tensor>, IForwardHook> hook) =>
        new([(SavedKey, initial)], (t, _) => t[SavedKey], hook);

    public IReadOnlyList<(string Key, Parameter Parameter)> Parameters => _parameters;

    public IForwardHook Hook { get; }

    public void Dispose()
    {
        foreach (var (_, p) in _parameters) p.Dispose();
    }

    /// <summary>The tensor at key, or a clear error naming the key (ForSaving reads a state dict).</summary>
    public static Tensor Get(IReadOnlyDictionary<string, Tensor> tensors, string key) =>
        tensors.TryGetValue(key, out var t) ? t : throw new PeftException($"prompt encoder tensor {key} is missing");

    /// <summary>A [outFeatures, inFeatures] weight and [outFeatures] bias initialised as torch.nn.Linear does (Kaiming uniform).</summary>
    public static IEnumerable<(string Key, Tensor Initial)> Linear(string key, long inFeatures, long outFeatures, Device device)
    {
        using var linear = nn.Linear(inFeatures, outFeatures, device: device);
        yield return (key + ".weight", linear.weight!.detach().clone());
        yield return (key + ".bias", linear.bias!.detach().clone());
    }

    /// <summary>x W^T + b with the tensors saved under key.</summary>
    public static Tensor ApplyLinear(IReadOnlyDictionary<string, Tensor> t, string key, Tensor x) =>
        nn.functional.linear(x, Get(t, key + ".weight"), Get(t, key + ".bias"));
}
