using PeftSharp.IO;

namespace PeftSharp.Models.Gpt2;

/// <summary>GPT-2's config.json fields, with transformers' defaults.</summary>
public sealed class Gpt2Config : ModelConfig
{
    public Gpt2Config(JsonConfig raw) : base(raw)
    {
        VocabSize = Positive("vocab_size", raw.GetInt("vocab_size", 50257));
        MaxPositions = Positive("n_positions", raw.GetInt("n_positions", 1024));
        Hidden = Positive("n_embd", raw.GetInt("n_embd", 768));
        Layers = Positive("n_layer", raw.GetInt("n_layer", 12));
        Heads = Positive("n_head", raw.GetInt("n_head", 12));
        Inner = Positive("n_inner", raw.GetInt("n_inner", null) ?? 4 * Hidden);
        Activation = raw.GetString("activation_function", "gelu_new")!;
        ResidDropout = Probability("resid_pdrop", 0.1);
        EmbdDropout = Probability("embd_pdrop", 0.1);
        AttnDropout = Probability("attn_pdrop", 0.1);
        LayerNormEps = raw.GetDouble("layer_norm_epsilon", 1e-5)!.Value;
        ScaleAttnWeights = raw.GetBool("scale_attn_weights", true);
        ScaleAttnByInverseLayerIdx = raw.GetBool("scale_attn_by_inverse_layer_idx", false);
        if (Hidden % Heads != 0) throw new PeftException($"{raw.Source}: n_embd {Hidden} is not divisible by n_head {Heads}");
    }

    public int VocabSize { get; }
    public int MaxPositions { get; }

    public override int? PositionLimit => MaxPositions;
    public int Hidden { get; }
    public int Layers { get; }
    public int Heads { get; }
    public int Inner { get; }
    public string Activation { get; }
    public double ResidDropout { get; }
    public double EmbdDropout { get; }
    public double AttnDropout { get; }
    public double LayerNormEps { get; }
    public bool ScaleAttnWeights { get; }
    public bool ScaleAttnByInverseLayerIdx { get; }
    public int HeadDim => Hidden / Heads;
}
