using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Options;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning.PTuning;

/// <summary>
/// P-tuning (Liu et al. 2021): virtual tokens in front of the input (<see cref="VirtualTokensHook"/>), produced while
/// training by a prompt encoder over an embedding E [V x submodules, token_dim]; the MLP encoder is
/// Linear(token_dim, h) → ReLU → Linear(h, h) → ReLU → Linear(h, token_dim) (PEFT's PromptEncoder). Only its output
/// is saved, as prompt_embeddings, and loading holds that output directly.
/// </summary>
public sealed class PTuningTuner : PromptLearningTuner<PTuningConfig>
{
    public static readonly MethodOption<string> EncoderType = new(PromptLearningOptions.PTuning, "encoder_reparameterization_type", "MLP",
        new OptionAttribute("P-tuning's prompt encoder: MLP (LSTM adapters load and run, but training one is not implemented yet)") { Choices = PTuningConfig.EncoderTypes });

    public override MethodDescription Description { get; } = new()
    {
        PeftType = "P_TUNING",
        Name = PromptLearningOptions.PTuning,
        Title = "P-tuning",
        Summary = "virtual tokens prepended to the input, produced by a trained prompt encoder (MLP); its output is saved",
        Trains = true,
        Mergeable = false,
        Options = [PromptLearningOptions.NumVirtualTokens, EncoderType, PromptLearningOptions.EncoderHiddenSize],
    };

    private const string Embedding0 = PromptAdapter.EncoderPrefix + "embedding.weight";
    private static readonly string[] Mlp = [PromptAdapter.EncoderPrefix + "mlp_head.0", PromptAdapter.EncoderPrefix + "mlp_head.2", PromptAdapter.EncoderPrefix + "mlp_head.4"];

    protected override PTuningConfig Read(JsonConfig json) => PTuningConfig.Read(json);

    public override PeftConfig CreateConfig(MethodSettings s) => Start(s, new PTuningConfig
    {
        EncoderReparameterizationType = EncoderType.Get(s.Options),
        EncoderHiddenSize = PromptLearningOptions.EncoderHiddenSize.Get(s.Options),
    });

    public override string Describe(MethodSettings s) => $"{base.Describe(s)}, {EncoderType.Get(s.Options)} encoder";

    protected override PromptAdapter Create(PretrainedModel model, PTuningConfig config, bool fromSaved)
    {
        int rows = config.TotalVirtualTokens, dim = config.TokenDim!.Value, hidden = config.EncoderHiddenSize!.Value;
        Func<Func<Tensor>, IForwardHook> hook = prompts => new VirtualTokensHook(prompts, config.NumVirtualTokens, config.TaskType);
        if (fromSaved)
            return new PromptAdapter([(PromptAdapter.SavedKey, zeros(rows, dim, device: model.Device))], t => t[PromptAdapter.SavedKey], hook);
        if (config.EncoderReparameterizationType != "MLP")
            throw new PeftException($"P-tuning with an {config.EncoderReparameterizationType} prompt encoder loads and runs, but training one is not implemented yet; use MLP");
        var encoder = new List<(string, Tensor)> { (Embedding0, Embedding(rows, dim, model)) };
        encoder.AddRange(PromptAdapter.Linear(Mlp[0], dim, hidden, model.Device));
        encoder.AddRange(PromptAdapter.Linear(Mlp[1], hidden, hidden, model.Device));
        encoder.AddRange(PromptAdapter.Linear(Mlp[2], hidden, dim, model.Device));
        return new PromptAdapter(encoder, Encode, hook);
    }

    protected override Tensor EncoderOutput(PTuningConfig config, IReadOnlyDictionary<string, Tensor> tensors) => Encode(tensors);

    private static Tensor Encode(IReadOnlyDictionary<string, Tensor> t)
    {
        var x = PromptAdapter.Get(t, Embedding0);
        x = PromptAdapter.ApplyLinear(t, Mlp[0], x).relu();
        x = PromptAdapter.ApplyLinear(t, Mlp[1], x).relu();
        return PromptAdapter.ApplyLinear(t, Mlp[2], x);
    }
}
