using PeftSharp.IO;
using PeftSharp.Models.Bert;
using PeftSharp.Models.Gpt2;
using PeftSharp.Models.Llama;
using PeftSharp.Models.T5;

namespace PeftSharp.Models;

/// <summary>
/// model_type (from config.json) to implementation. Adding an architecture is one row here plus its folder.
/// </summary>
public static class ModelRegistry
{
    private sealed record Entry(Func<JsonConfig, PretrainedModel> Create);

    private static readonly Dictionary<string, Entry> Entries = new(StringComparer.Ordinal)
    {
        ["gpt2"] = new(raw => new Gpt2LMHeadModel(new Gpt2Config(raw))),
        ["llama"] = new(raw => new LlamaForCausalLM(new LlamaConfig(raw))),
        ["mistral"] = new(raw => new LlamaForCausalLM(new LlamaConfig(raw))),
        ["qwen2"] = new(raw => new LlamaForCausalLM(new LlamaConfig(raw))),
        ["bert"] = new(raw => (raw.GetStringList("architectures") ?? []).Contains("BertForSequenceClassification")
            ? new BertForSequenceClassification(new BertConfig(raw))
            : new BertModel(new BertConfig(raw))),
        ["t5"] = new(raw => new T5ForConditionalGeneration(new T5Config(raw))),
    };

    public static IReadOnlyCollection<string> SupportedModelTypes => Entries.Keys;

    /// <summary>Builds an untrained model from a parsed config.json.</summary>
    public static PretrainedModel Create(JsonConfig config)
    {
        var type = config.GetString("model_type", null)
            ?? throw new PeftException($"{config.Source}: no \"model_type\"; is this a transformers config.json?");
        if (!Entries.TryGetValue(type, out var entry))
            throw new PeftException($"{config.Source}: model_type \"{type}\" is not supported (supported: {string.Join(", ", Entries.Keys.Order())})");
        return entry.Create(config);
    }
}
