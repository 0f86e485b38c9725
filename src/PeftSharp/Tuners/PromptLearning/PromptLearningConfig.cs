using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;

namespace PeftSharp.Tuners.PromptLearning;

/// <summary>
/// The fields PEFT's PromptLearningConfig gives prompt tuning, prefix tuning and P-tuning: how many virtual tokens and
/// the model's shape as PEFT resolves it (num_layers, token_dim, num_attention_heads, num_transformer_submodules). A new
/// config leaves the shape null; <see cref="Resolve"/> fills it from the model's config.json as PEFT's
/// _prepare_prompt_learning_config does, so the saved file carries the resolved values PEFT writes.
/// </summary>
public abstract class PromptLearningConfig : PeftConfig
{
    public int NumVirtualTokens { get; set; } = 20;

    public override int AddedPositions => NumVirtualTokens;
    public int? TokenDim { get; set; }
    /// <summary>2 for encoder-decoder models (SEQ_2_SEQ_LM), else 1: how many virtual-token sets PEFT allocates.</summary>
    public int? NumTransformerSubmodules { get; set; }
    public int? NumAttentionHeads { get; set; }
    public int? NumLayers { get; set; }

    /// <summary>
    /// Set by the tuner's ForLoading: the adapter is built to receive saved tensors (the encoder's output), so no
    /// encoder is made, as PEFT does in inference mode. Not written to the file.
    /// </summary>
    public bool FromSaved { get; set; }

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat(
        ["num_virtual_tokens", "token_dim", "num_transformer_submodules", "num_attention_heads", "num_layers"]);

    protected void ReadPromptLearning(JsonConfig json)
    {
        ReadCommon(json);
        NumVirtualTokens = json.GetInt("num_virtual_tokens", null) ?? throw new PeftException($"{json.Source}: \"num_virtual_tokens\" is missing");
        if (NumVirtualTokens <= 0) throw new PeftException($"{json.Source}: \"num_virtual_tokens\" must be positive, got {NumVirtualTokens}");
        TokenDim = Positive(json, "token_dim");
        NumTransformerSubmodules = Positive(json, "num_transformer_submodules");
        if (NumTransformerSubmodules is > 2) throw new PeftException($"{json.Source}: \"num_transformer_submodules\" must be 1 or 2, got {NumTransformerSubmodules}");
        NumAttentionHeads = Positive(json, "num_attention_heads");
        NumLayers = Positive(json, "num_layers");
    }

    private static int? Positive(JsonConfig json, string key)
    {
        var v = json.GetInt(key, null);
        if (v is <= 0) throw new PeftException($"{json.Source}: \"{key}\" must be positive, got {v}");
        return v;
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        f["num_virtual_tokens"] = NumVirtualTokens;
        f["token_dim"] = TokenDim;
        f["num_transformer_submodules"] = NumTransformerSubmodules;
        f["num_attention_heads"] = NumAttentionHeads;
        f["num_layers"] = NumLayers;
    }

    /// <summary>Virtual-token rows PEFT allocates: num_virtual_tokens per transformer submodule.</summary>
    public int TotalVirtualTokens => NumVirtualTokens * (NumTransformerSubmodules ?? 1);

    /// <summary>Whether PEFT would use grouped-query key/value heads for this method (prefix tuning only).</summary>
    protected virtual bool UsesKeyValueHeads => false;

    /// <summary>
    /// Fills the fields left null from the model's config.json, with PEFT's key order (num_hidden_layers, num_layers,
    /// n_layer; hidden_size, n_embd, d_model; num_attention_heads, n_head, num_heads), then the method's own.
    /// </summary>
    public virtual void Resolve(PretrainedModel model)
    {
        var raw = model.Config.Raw;
        NumTransformerSubmodules ??= TaskType == TaskTypes.Seq2SeqLm || model is IEncoderDecoder ? 2 : 1;
        NumLayers ??= First(raw, "num_layers", "num_hidden_layers", "num_layers", "n_layer");
        TokenDim ??= First(raw, "token_dim", "hidden_size", "n_embd", "d_model");
        if (NumAttentionHeads is null)
        {
            NumAttentionHeads = First(raw, "num_attention_heads", "num_attention_heads", "n_head", "num_heads", "encoder_attention_heads");
            // Grouped-query attention (PEFT #1901): a prefix has the key/value heads' count and width.
            if (UsesKeyValueHeads && raw.GetInt("num_key_value_heads", null) is { } kvHeads)
            {
                int headDim = raw.GetInt("head_dim", null) ?? TokenDim.Value / NumAttentionHeads.Value;
                TokenDim = headDim * kvHeads;
                NumAttentionHeads = kvHeads;
            }
        }
    }

    private static int First(JsonConfig raw, string field, params string[] keys)
    {
        foreach (var key in keys)
            if (raw.GetInt(key, null) is { } v) return v;
        throw new PeftException($"{raw.Source}: none of {string.Join(", ", keys)} is set, so the adapter's \"{field}\" cannot be derived; give it in the adapter config");
    }
}
