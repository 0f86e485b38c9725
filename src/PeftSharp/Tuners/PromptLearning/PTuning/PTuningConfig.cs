using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;

namespace PeftSharp.Tuners.PromptLearning.PTuning;

/// <summary>
/// PEFT's PromptEncoderConfig (peft_type P_TUNING): the shared prompt-learning fields plus the prompt encoder
/// (encoder_reparameterization_type MLP or LSTM, encoder_hidden_size defaulting to token_dim, encoder_num_layers for
/// the LSTM, encoder_dropout).
/// </summary>
public sealed class PTuningConfig : PromptLearningConfig
{
    public static readonly string[] EncoderTypes = ["MLP", "LSTM"];

    public override string PeftType => "P_TUNING";
    public string EncoderReparameterizationType { get; set; } = "MLP";
    public int? EncoderHiddenSize { get; set; }
    public int EncoderNumLayers { get; set; } = 2;
    public double EncoderDropout { get; set; }

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat(
        ["encoder_reparameterization_type", "encoder_hidden_size", "encoder_num_layers", "encoder_dropout"]);

    public static PTuningConfig Read(JsonConfig json)
    {
        var c = new PTuningConfig();
        c.ReadPromptLearning(json);
        c.EncoderReparameterizationType = json.GetString("encoder_reparameterization_type", "MLP")!;
        if (!EncoderTypes.Contains(c.EncoderReparameterizationType))
            throw new PeftException($"{json.Source}: \"encoder_reparameterization_type\" is {c.EncoderReparameterizationType}, expected MLP or LSTM");
        c.EncoderHiddenSize = json.GetInt("encoder_hidden_size", null);
        if (c.EncoderHiddenSize is <= 0) throw new PeftException($"{json.Source}: \"encoder_hidden_size\" must be positive, got {c.EncoderHiddenSize}");
        c.EncoderNumLayers = json.GetInt("encoder_num_layers", 2)!.Value;
        c.EncoderDropout = json.GetDouble("encoder_dropout", 0.0)!.Value;
        return c;
    }

    public override void Resolve(PretrainedModel model)
    {
        base.Resolve(model);
        EncoderHiddenSize ??= TokenDim;
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        base.WriteFields(f);
        f["encoder_reparameterization_type"] = EncoderReparameterizationType;
        f["encoder_hidden_size"] = EncoderHiddenSize;
        f["encoder_num_layers"] = EncoderNumLayers;
        f["encoder_dropout"] = EncoderDropout;
    }
}
