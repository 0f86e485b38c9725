using System.Text.Json.Nodes;

namespace PeftSharp.Interop;

/// <summary>A base model of the check: where it is, how `peft train` trains on it, and how Python PEFT targets it.</summary>
/// <param name="TrainModel">The folder `peft train` gets (MiniLM: the bare encoder, which gets a new head).</param>
/// <param name="ForwardModel">The folder both sides run forward passes on (MiniLM: a config that names the classifier).</param>
/// <param name="SavedModule">A module for the modules_to_save case (besides a classifier's head, which is always saved).</param>
internal sealed record BaseModel(string Key, string TrainModel, string ForwardModel, string TaskType, string[] TrainArgs,
    int Vocab, string SavedModule, Dictionary<string, string[]> PythonTargets);

/// <summary>A method as `peft train` flags (our adapters, read by Python) or as a PEFT config (Python's, read by us).</summary>
/// <param name="Merges">False for prompt learning: the prompt is an input, so there is no merged form to compare.</param>
/// <param name="Quantize">A 4-bit base (QLoRA): the flags our train and forward get; Python loads the adapter onto the
/// same base dequantized (`peft merge --quantize ...` without an adapter), and the merged form is `peft merge --quantize`.</param>
internal sealed record Method(string Label, string[] TrainArgs, Func<BaseModel, JsonObject>? PythonConfig = null, bool Merges = true, string[]? Quantize = null);

internal static class Cases
{
    /// <summary>Every method `peft train` trains, with each LoRA variant and initialisation (issue 10's list).</summary>
    public static IReadOnlyList<Method> Ours(BaseModel m) => Applicable(m,
    [
        new("lora", []),
        new("lora dora", ["--use-dora"]),
        new("lora rslora", ["--use-rslora"]),
        new("lora gaussian", ["--init-lora-weights", "gaussian"]),
        new("lora pissa", ["--init-lora-weights", "pissa"]),
        new("lora pissa_niter_4 rslora", ["--init-lora-weights", "pissa_niter_4", "--use-rslora"]),
        new("lora olora", ["--init-lora-weights", "olora"]),
        new("lora dora pissa", ["--use-dora", "--init-lora-weights", "pissa"]),
        new($"lora +{m.SavedModule}", ["--modules-to-save", m.SavedModule]),
        new("ia3", ["--method", "ia3"]),
        new("loha", ["--method", "loha"]),
        // targets and per-module ranks chosen by an analysis of the training data (rank_pattern, alpha_pattern)
        new("lora auto", ["--target-modules", "auto", "--trainable-budget", "3%"]),
        new("loha auto fisher", ["--method", "loha", "--target-modules", "auto", "--trainable-budget", "3%", "--target-estimator", "fisher"]),
        // the layers placed by an analysis (layer_groups auto); only where the model has no biases (Llama), since Python
        // PEFT cannot run the groups' trained biases (PeftSharp's BitFit adapter in biases/) and would compute without them
        new("lora layer-groups auto", ["--layer-groups", "auto", "--target-modules", "all-linear"]),
        // QLoRA: trained and run on an NF4 / FP4 base; Python runs the adapter on that base dequantized
        new("lora nf4 double-quant", ["--quantize", "nf4", "--double-quant", "--target-modules", "all-linear"], Quantize: ["--quantize", "nf4", "--double-quant"]),
        new("lora dora fp4", ["--quantize", "fp4", "--use-dora"], Quantize: ["--quantize", "fp4"]),
        new("lokr", ["--method", "lokr"]),
        new("vera", ["--method", "vera"]),
        // 12 steps: 3 of warm-up, masking to the budget through step 8, the last 3 with the final rank pattern.
        new("adalora", ["--method", "adalora", "--init-r", "6", "--target-r", "2", "--tinit", "3", "--tfinal", "3"]),
        new("ln-tuning", ["--method", "ln-tuning"]),
        new("prompt-tuning", ["--method", "prompt-tuning", "--num-virtual-tokens", "5"], Merges: false),
        new("prompt-tuning TEXT init", ["--method", "prompt-tuning", "--num-virtual-tokens", "6", "--prompt-tuning-init", "TEXT",
            "--prompt-tuning-init-text", "Classify the sentiment of this review"], Merges: false),
        new("prompt-tuning SAMPLE_VOCAB", ["--method", "prompt-tuning", "--num-virtual-tokens", "5", "--prompt-tuning-init", "SAMPLE_VOCAB"], Merges: false),
        new("prefix-tuning", ["--method", "prefix-tuning", "--num-virtual-tokens", "5"], Merges: false),
        new("prefix-tuning projection", ["--method", "prefix-tuning", "--num-virtual-tokens", "5", "--prefix-projection", "--encoder-hidden-size", "32"], Merges: false),
        new("p-tuning MLP", ["--method", "p-tuning", "--num-virtual-tokens", "5", "--encoder-hidden-size", "32"], Merges: false),
        new("p-tuning LSTM", ["--method", "p-tuning", "--num-virtual-tokens", "5", "--encoder-reparameterization-type", "LSTM", "--encoder-hidden-size", "16"], Merges: false),
    ]);

    /// <summary>Adapters Python trains with dropout on (the reverse direction); targets are Python PEFT's defaults unless given.</summary>
    public static IReadOnlyList<Method> Python(BaseModel m) => Applicable(m,
    [
        new("lora dropout 0.1", [], b => Lora(b, new() { ["lora_dropout"] = 0.1 })),
        new("lora dora", [], b => Lora(b, new() { ["lora_dropout"] = 0.1, ["use_dora"] = true })),
        new("lora rslora", [], b => Lora(b, new() { ["lora_dropout"] = 0.1, ["use_rslora"] = true, ["r"] = 8 })),
        new("ia3", [], b => Config(b, "IA3", new() { ["target_modules"] = Targets(b, "ia3"), ["feedforward_modules"] = Targets(b, "ia3_ff") })),
        new("loha", [], b => Config(b, "LOHA", new() { ["r"] = 4, ["alpha"] = 8, ["module_dropout"] = 0.1, ["rank_dropout"] = 0.1, ["target_modules"] = Targets(b, "lycoris") })),
        new("lokr", [], b => Config(b, "LOKR", new() { ["r"] = 4, ["alpha"] = 8, ["module_dropout"] = 0.1, ["rank_dropout"] = 0.1, ["target_modules"] = Targets(b, "lycoris") })),
        new("vera", [], b => Config(b, "VERA", new() { ["r"] = 16, ["vera_dropout"] = 0.1, ["target_modules"] = Targets(b, "lora") })),
        new("ln-tuning", [], b => Config(b, "LN_TUNING", new() { ["target_modules"] = Targets(b, "ln") })),
        new("prompt-tuning", [], b => Config(b, "PROMPT_TUNING", new() { ["num_virtual_tokens"] = 5 }), Merges: false),
        new("prefix-tuning projection", [], b => Config(b, "PREFIX_TUNING", new() { ["num_virtual_tokens"] = 5, ["prefix_projection"] = true, ["encoder_hidden_size"] = 32 }), Merges: false),
        new("p-tuning LSTM dropout 0.1", [], b => Config(b, "P_TUNING", new()
        {
            ["num_virtual_tokens"] = 5, ["encoder_reparameterization_type"] = "LSTM", ["encoder_hidden_size"] = 16, ["encoder_dropout"] = 0.1,
        }), Merges: false),
    ]);

    /// <summary>
    /// LoHa and LoKr adapt nn.Linear layers, in PEFT as here; GPT-2's attention and MLP are transformers' Conv1D, which
    /// both refuse, so those pairs are left out rather than reported as failures.
    /// </summary>
    private static List<Method> Applicable(BaseModel m, List<Method> methods) =>
        methods.Where(x => !(m.Key == "gpt2" && (x.Label.StartsWith("loha", StringComparison.Ordinal) || x.Label.StartsWith("lokr", StringComparison.Ordinal))))
            .Where(x => !x.Label.Contains("layer-groups", StringComparison.Ordinal) || m.Key.StartsWith("llama", StringComparison.Ordinal)).ToList();

    private static JsonObject Lora(BaseModel b, Dictionary<string, JsonNode?> extra) =>
        Config(b, "LORA", new Dictionary<string, JsonNode?> { ["r"] = 4, ["lora_alpha"] = 8, ["target_modules"] = Targets(b, "lora") }.Concat(extra)
            .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value));

    private static JsonObject Config(BaseModel b, string type, Dictionary<string, JsonNode?> fields)
    {
        var o = new JsonObject { ["peft_type"] = type, ["task_type"] = b.TaskType };
        foreach (var (k, v) in fields) o[k] = v?.DeepClone();
        return o;
    }

    private static JsonArray Targets(BaseModel b, string kind) => new(b.PythonTargets[kind].Select(t => (JsonNode)t).ToArray());
}
