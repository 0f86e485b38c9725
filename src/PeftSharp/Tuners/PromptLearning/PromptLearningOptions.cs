using PeftSharp.Options;

namespace PeftSharp.Tuners.PromptLearning;

/// <summary>Options the three prompt-learning methods share (declared once: a config key means one thing).</summary>
public static class PromptLearningOptions
{
    public const string PromptTuning = "prompt-tuning";
    public const string PrefixTuning = "prefix-tuning";
    public const string PTuning = "p-tuning";

    public static readonly MethodOption<int> NumVirtualTokens = new([PromptTuning, PrefixTuning, PTuning], "num_virtual_tokens", 20,
        new OptionAttribute("Number of virtual tokens (prompt positions, or prefix positions per layer)") { Min = 1, Max = 4096 });

    /// <summary>Null: the model's hidden size (token_dim), as PEFT resolves it.</summary>
    public static readonly MethodOption<int?> EncoderHiddenSize = new([PrefixTuning, PTuning], "encoder_hidden_size", null,
        new OptionAttribute("Hidden size of the reparameterisation encoder (prefix projection, P-tuning); default: the model's hidden size") { Min = 1, Max = 1 << 16 },
        nullable: true);
}
