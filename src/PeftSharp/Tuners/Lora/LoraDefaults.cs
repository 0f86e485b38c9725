namespace PeftSharp.Tuners.Lora;

/// <summary>Where LoRA goes when a config names no targets: PEFT's per-architecture defaults.</summary>
public static class LoraDefaults
{
    private static readonly Dictionary<string, string[]> Targets = new(StringComparer.Ordinal)
    {
        ["gpt2"] = ["c_attn"],
        ["llama"] = ["q_proj", "v_proj"],
        ["mistral"] = ["q_proj", "v_proj"],
        ["qwen2"] = ["q_proj", "v_proj"],
        ["bert"] = ["query", "value"],
        ["t5"] = ["q", "v"],
    };

    public static IReadOnlyList<string>? For(string modelType) => Targets.TryGetValue(modelType, out var t) ? t : null;
}
