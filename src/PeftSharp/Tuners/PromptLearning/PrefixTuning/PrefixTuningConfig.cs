using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;

namespace PeftSharp.Tuners.PromptLearning.PrefixTuning;

/// <summary>
/// PEFT's PrefixTuningConfig: the shared prompt-learning fields (num_attention_heads and token_dim are the key/value
/// heads' for grouped-query models, as PEFT resolves them), prefix_projection and encoder_hidden_size (default token_dim).
/// </summary>
public sealed class PrefixTuningConfig : PromptLearningConfig
{
    public override string PeftType => "PREFIX_TUNING";
    public int? EncoderHiddenSize { get; set; }
    /// <summary>Train the prefix through embedding → Linear → Tanh → Linear; only its output is saved.</summary>
    public bool PrefixProjection { get; set; }

    protected override bool UsesKeyValueHeads => true;

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat(["encoder_hidden_size", "prefix_projection"]);

    public static PrefixTuningConfig Read(JsonConfig json)
    {
        var c = new PrefixTuningConfig();
        c.ReadPromptLearning(json);
        c.EncoderHiddenSize = json.GetInt("encoder_hidden_size", null);
        if (c.EncoderHiddenSize is <= 0) throw new PeftException($"{json.Source}: \"encoder_hidden_size\" must be positive, got {c.EncoderHiddenSize}");
        c.PrefixProjection = json.GetBool("prefix_projection", false);
        return c;
    }

    public override void Resolve(PretrainedModel model)
    {
        base.Resolve(model);
        EncoderHiddenSize ??= TokenDim;
    }

    /// <summary>Width of the saved prefix: a key and a value of token_dim per layer.</summary>
    public int PrefixWidth => NumLayers!.Value * 2 * TokenDim!.Value;

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        base.WriteFields(f);
        f["encoder_hidden_size"] = EncoderHiddenSize;
        f["prefix_projection"] = PrefixProjection;
    }
}
