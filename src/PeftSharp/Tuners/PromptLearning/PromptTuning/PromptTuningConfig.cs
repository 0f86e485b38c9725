using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.PromptLearning.PromptTuning;

/// <summary>
/// PEFT's PromptTuningConfig: the shared prompt-learning fields plus the initialisation of the virtual tokens
/// (RANDOM: N(0, 1); SAMPLE_VOCAB: rows of the model's word embeddings at random ids; TEXT: the word embeddings of
/// prompt_tuning_init_text's tokens, tiled or cut to length). The tokenizer fields are kept as written.
/// </summary>
public sealed class PromptTuningConfig : PromptLearningConfig
{
    public static readonly string[] Inits = ["RANDOM", "SAMPLE_VOCAB", "TEXT"];

    public override string PeftType => "PROMPT_TUNING";
    public string PromptTuningInit { get; set; } = "RANDOM";
    public string? PromptTuningInitText { get; set; }
    public string? TokenizerNameOrPath { get; set; }
    public JsonNode? TokenizerKwargs { get; set; }
    /// <summary>TEXT init: the init text's token ids, given by whoever holds the tokenizer (training). Not written to the file.</summary>
    public IReadOnlyList<long>? InitTokenIds { get; set; }

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat(
        ["prompt_tuning_init", "prompt_tuning_init_text", "tokenizer_name_or_path", "tokenizer_kwargs"]);

    public static PromptTuningConfig Read(JsonConfig json)
    {
        var c = new PromptTuningConfig();
        c.ReadPromptLearning(json);
        c.PromptTuningInit = json.GetString("prompt_tuning_init", "RANDOM")!;
        if (!Inits.Contains(c.PromptTuningInit))
            throw new PeftException($"{json.Source}: \"prompt_tuning_init\" is {c.PromptTuningInit}, expected one of {string.Join(", ", Inits)}");
        c.PromptTuningInitText = json.GetString("prompt_tuning_init_text", null);
        c.TokenizerNameOrPath = json.GetString("tokenizer_name_or_path", null);
        c.TokenizerKwargs = json.Raw("tokenizer_kwargs")?.DeepClone();
        return c;
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        base.WriteFields(f);
        f["prompt_tuning_init"] = PromptTuningInit;
        f["prompt_tuning_init_text"] = PromptTuningInitText;
        f["tokenizer_name_or_path"] = TokenizerNameOrPath;
        f["tokenizer_kwargs"] = TokenizerKwargs?.DeepClone();
    }
}
