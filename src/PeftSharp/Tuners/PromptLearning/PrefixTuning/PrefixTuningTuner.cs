using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Options;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning.PrefixTuning;

/// <summary>
/// Prefix tuning (Li and Liang 2021): per layer a trained key/value prefix of num_virtual_tokens positions
/// (<see cref="PrefixHook"/>). Without projection the prefix [V, layers*2*token_dim] is trained and saved as
/// prompt_embeddings; with prefix_projection an encoder trains, tanh(E W1^T + b1) W2^T + b2 over an embedding E
/// [V, token_dim], and only its output is saved (PEFT's PrefixEncoder).
/// </summary>
public sealed class PrefixTuningTuner : PromptLearningTuner<PrefixTuningConfig>
{
    public static readonly MethodOption<bool> PrefixProjection = new(PromptLearningOptions.PrefixTuning, "prefix_projection", false,
        new OptionAttribute("Train the prefix through a two-layer Tanh MLP over an embedding (encoder_hidden_size); only its output is saved"));

    public override MethodDescription Description { get; } = new()
    {
        PeftType = "PREFIX_TUNING",
        Name = PromptLearningOptions.PrefixTuning,
        Title = "Prefix tuning",
        Summary = "trained keys and values prepended to every attention layer (the base model is untouched)",
        Trains = true,
        Mergeable = false,
        Options = [PromptLearningOptions.NumVirtualTokens, PrefixProjection, PromptLearningOptions.EncoderHiddenSize],
    };

    private const string Embedding0 = PromptAdapter.EncoderPrefix + "embedding.weight";
    private const string First = PromptAdapter.EncoderPrefix + "transform.0";
    private const string Second = PromptAdapter.EncoderPrefix + "transform.2";

    protected override PrefixTuningConfig Read(JsonConfig json) => PrefixTuningConfig.Read(json);

    public override PeftConfig CreateConfig(MethodSettings s) => Start(s, new PrefixTuningConfig
    {
        PrefixProjection = PrefixProjection.Get(s.Options),
        EncoderHiddenSize = PromptLearningOptions.EncoderHiddenSize.Get(s.Options),
    });

    public override string Describe(MethodSettings s) =>
        PrefixProjection.Get(s.Options) ? $"{base.Describe(s)}, projection of hidden size {PromptLearningOptions.EncoderHiddenSize.Get(s.Options)?.ToString() ?? "the model's"}" : base.Describe(s);

    protected override PromptAdapter Create(PretrainedModel model, PrefixTuningConfig config, bool fromSaved)
    {
        int v = config.NumVirtualTokens, dim = config.TokenDim!.Value, hidden = config.EncoderHiddenSize!.Value;
        Func<Func<bool, Tensor>, IForwardHook> hook = prefix =>
            new PrefixHook(prefix, config.NumLayers!.Value, config.NumAttentionHeads!.Value, config.NumTransformerSubmodules!.Value, config.TaskType);
        if (fromSaved || !config.PrefixProjection)
        {
            var initial = fromSaved ? zeros(v, config.PrefixWidth, device: model.Device) : Embedding(v, config.PrefixWidth, model);
            return PromptAdapter.Held(initial, hook);
        }
        var encoder = new List<(string, Tensor)> { (Embedding0, Embedding(v, dim, model)) };
        encoder.AddRange(PromptAdapter.Linear(First, dim, hidden, model.Device));
        encoder.AddRange(PromptAdapter.Linear(Second, hidden, config.PrefixWidth, model.Device));
        return new PromptAdapter(encoder, (t, _) => Encode(t), hook);
    }

    protected override Tensor EncoderOutput(PrefixTuningConfig config, IReadOnlyDictionary<string, Tensor> tensors) => Encode(tensors);

    private static Tensor Encode(IReadOnlyDictionary<string, Tensor> t) =>
        PromptAdapter.ApplyLinear(t, Second, PromptAdapter.ApplyLinear(t, First, PromptAdapter.Get(t, Embedding0)).tanh());
}
