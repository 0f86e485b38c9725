using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Options;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning.PTuning;

/// <summary>
/// P-tuning (Liu et al. 2021): virtual tokens in front of the input (<see cref="VirtualTokensHook"/>), produced while
/// training by a prompt encoder over an embedding E [V x submodules, token_dim]; the MLP encoder is
/// Linear(token_dim, h) → ReLU → Linear(h, h) → ReLU → Linear(h, token_dim) (PEFT's PromptEncoder), the LSTM one is
/// <see cref="LstmEncoder"/>. Only its output is saved, as prompt_embeddings, and loading holds that output directly.
/// </summary>
public sealed class PTuningTuner : PromptLearningTuner<PTuningConfig>
{
    public static readonly MethodOption<string> EncoderType = new(PromptLearningOptions.PTuning, "encoder_reparameterization_type", "MLP",
        new OptionAttribute("P-tuning's prompt encoder: MLP (three linear layers) or LSTM (a bidirectional LSTM and two linear layers)") { Choices = PTuningConfig.EncoderTypes });

    public static readonly MethodOption<int> EncoderNumLayers = new(PromptLearningOptions.PTuning, "encoder_num_layers", 2,
        new OptionAttribute("Layers of the LSTM prompt encoder (PEFT ignores it for MLP, which has three)") { Min = 1, Max = 16 });

    public static readonly MethodOption<double> EncoderDropout = new(PromptLearningOptions.PTuning, "encoder_dropout", 0.0,
        new OptionAttribute("Dropout between the LSTM prompt encoder's layers while training") { Min = 0, Max = 0.99 });

    public override MethodDescription Description { get; } = new()
    {
        PeftType = "P_TUNING",
        Name = PromptLearningOptions.PTuning,
        Title = "P-tuning",
        Summary = "virtual tokens prepended to the input, produced by a trained prompt encoder (MLP or LSTM); its output is saved",
        Trains = true,
        Mergeable = false,
        Options = [PromptLearningOptions.NumVirtualTokens, EncoderType, PromptLearningOptions.EncoderHiddenSize, EncoderNumLayers, EncoderDropout],
    };

    private const string Embedding0 = PromptAdapter.EncoderPrefix + "embedding.weight";
    private static readonly string[] Mlp = [PromptAdapter.EncoderPrefix + "mlp_head.0", PromptAdapter.EncoderPrefix + "mlp_head.2", PromptAdapter.EncoderPrefix + "mlp_head.4"];

    protected override PTuningConfig Read(JsonConfig json) => PTuningConfig.Read(json);

    public override PeftConfig CreateConfig(MethodSettings s) => Start(s, new PTuningConfig
    {
        EncoderReparameterizationType = EncoderType.Get(s.Options),
        EncoderHiddenSize = PromptLearningOptions.EncoderHiddenSize.Get(s.Options),
        EncoderNumLayers = EncoderNumLayers.Get(s.Options),
        EncoderDropout = EncoderDropout.Get(s.Options),
    });

    public override string Describe(MethodSettings s) => $"{base.Describe(s)}, {EncoderType.Get(s.Options)} encoder";

    protected override PromptAdapter Create(PretrainedModel model, PTuningConfig config, bool fromSaved)
    {
        int rows = config.TotalVirtualTokens, dim = config.TokenDim!.Value, hidden = config.EncoderHiddenSize!.Value;
        Func<Func<bool, Tensor>, IForwardHook> hook = prompts => new VirtualTokensHook(prompts, config.NumVirtualTokens, config.TaskType);
        if (fromSaved) return PromptAdapter.Held(zeros(rows, dim, device: model.Device), hook);
        var encoder = new List<(string, Tensor)> { (Embedding0, Embedding(rows, dim, model)) };
        if (IsLstm(config)) encoder.AddRange(LstmEncoder.Create(dim, hidden, config.EncoderNumLayers, model.Device));
        else
        {
            encoder.AddRange(PromptAdapter.Linear(Mlp[0], dim, hidden, model.Device));
            encoder.AddRange(PromptAdapter.Linear(Mlp[1], hidden, hidden, model.Device));
            encoder.AddRange(PromptAdapter.Linear(Mlp[2], hidden, dim, model.Device));
        }
        return new PromptAdapter(encoder, (t, training) => Encode(config, t, training), hook);
    }

    protected override Tensor EncoderOutput(PTuningConfig config, IReadOnlyDictionary<string, Tensor> tensors) => Encode(config, tensors, training: false);

    private static bool IsLstm(PTuningConfig config) => config.EncoderReparameterizationType == "LSTM";

    private static Tensor Encode(PTuningConfig config, IReadOnlyDictionary<string, Tensor> t, bool training)
    {
        var x = PromptAdapter.Get(t, Embedding0);
        if (IsLstm(config)) return LstmEncoder.Forward(t, x, config.EncoderNumLayers, config.EncoderDropout, training);
        x = PromptAdapter.ApplyLinear(t, Mlp[0], x).relu();
        x = PromptAdapter.ApplyLinear(t, Mlp[1], x).relu();
        return PromptAdapter.ApplyLinear(t, Mlp[2], x);
    }
}
