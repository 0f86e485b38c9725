namespace PeftSharp.Tuners.Lora;

/// <summary>Where LoRA goes when a config names no targets: PEFT's per-architecture defaults.</summary>
public static class LoraDefaults
{
    /// <summary>model_type to target module names (LoHa, LoKr, VeRA and AdaLoRA use the same table, as PEFT).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Targets { get; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
    {
        ["gpt2"] = ["c_attn"],
        ["llama"] = ["q_proj", "v_proj"],
        ["mistral"] = ["q_proj", "v_proj"],
        ["qwen2"] = ["q_proj", "v_proj"],
        ["bert"] = ["query", "value"],
        ["t5"] = ["q", "v"],
    };
}
