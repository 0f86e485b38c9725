using PeftSharp.IO;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning;

/// <summary>
/// What the three prompt-learning tuners share: no wrapper layers (Inject only checks the model), a model-level
/// <see cref="PromptAdapter"/> built after the config's shape is resolved from the model, loading straight into the
/// saved tensor (no encoder, as PEFT in inference mode), and saving an encoder's output under prompt_embeddings.
/// </summary>
public abstract class PromptLearningTuner<TConfig> : ITuner where TConfig : PromptLearningConfig
{
    public abstract MethodDescription Description { get; }

    public PeftConfig ReadConfig(JsonConfig json) => Read(json);

    /// <summary>PEFT's prompt-learning PeftModel holds the base model itself as base_model: a classifier copy is base_model.classifier.*.</summary>
    public string SavedModulePrefix => "base_model.";

    public abstract PeftConfig CreateConfig(MethodSettings settings);

    /// <summary>The report's method line: "Prefix tuning, 20 virtual tokens" and the method's own choices.</summary>
    public virtual string Describe(MethodSettings s) => $"{Description.Title}, {PromptLearningOptions.NumVirtualTokens.Get(s.Options)} virtual tokens";

    protected abstract TConfig Read(JsonConfig json);

    public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig config)
    {
        if (root is not PretrainedModel)
            throw new PeftException($"{Description.Title} acts on a PeftSharp model's inputs; {root.GetType().Name} is not one");
        return [];
    }

    public PeftConfig ForLoading(PeftConfig config)
    {
        var copy = Read(JsonConfig.Parse(config.ToJson(), "adapter config"));
        copy.FromSaved = true;
        return copy;
    }

    public IModelAdapter? CreateModelAdapter(PretrainedModel model, string adapter, PeftConfig peftConfig)
    {
        var config = (TConfig)peftConfig;
        config.Resolve(model);
        return Create(model, config, config.FromSaved || config.InferenceMode);
    }

    /// <summary>The adapter's part; fromSaved: only the saved tensor, to be overwritten by a file's.</summary>
    protected abstract PromptAdapter Create(PretrainedModel model, TConfig config, bool fromSaved);

    /// <summary>The saved tensor from an encoder's tensors (the encoder's forward, as in <see cref="Create"/>).</summary>
    protected virtual Tensor EncoderOutput(TConfig config, IReadOnlyDictionary<string, Tensor> tensors) =>
        throw new PeftException($"{Description.Title} has no encoder");

    public (PeftConfig Config, IReadOnlyDictionary<string, Tensor> Tensors) ForSaving(
        nn.Module root, string adapter, PeftConfig config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        if (!tensors.Keys.Any(k => k.StartsWith(PromptAdapter.EncoderPrefix, StringComparison.Ordinal))) return (config, tensors);
        var encoder = tensors.Where(kv => kv.Key.StartsWith(PromptAdapter.EncoderPrefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var result = tensors.Where(kv => !encoder.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        using (no_grad()) result[PromptAdapter.SavedKey] = EncoderOutput((TConfig)config, encoder);
        return (config, result);
    }

    /// <summary>Starts a config for training with the shared settings.</summary>
    protected static T Start<T>(MethodSettings s, T config) where T : PromptLearningConfig
    {
        s.Common(config);
        config.NumVirtualTokens = PromptLearningOptions.NumVirtualTokens.Get(s.Options);
        return config;
    }

    /// <summary>N(0, 1), torch.nn.Embedding's default initialisation, on the model's device.</summary>
    protected static Tensor Embedding(long rows, long width, PretrainedModel model) => randn(rows, width, device: model.Device);
}
