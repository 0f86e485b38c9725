using PeftSharp.IO;

namespace PeftSharp.Models.Llama;

/// <summary>
/// Config of the Llama family (llama, mistral, qwen2 model types): one implementation covers them,
/// the differences being q/k/v biases (Qwen2), a sliding attention window (Mistral) and RoPE scaling.
/// </summary>
public sealed class LlamaConfig : ModelConfig
{
    public static readonly IReadOnlyList<string> ModelTypes = ["llama", "mistral", "qwen2"];

    public LlamaConfig(JsonConfig raw) : base(raw)
    {
        VocabSize = Positive("vocab_size", raw.GetInt("vocab_size", null));
        Hidden = Positive("hidden_size", raw.GetInt("hidden_size", null));
        Intermediate = Positive("intermediate_size", raw.GetInt("intermediate_size", null));
        Layers = Positive("num_hidden_layers", raw.GetInt("num_hidden_layers", null));
        Heads = Positive("num_attention_heads", raw.GetInt("num_attention_heads", null));
        KvHeads = Positive("num_key_value_heads", raw.GetInt("num_key_value_heads", null) ?? Heads);
        HeadDim = Positive("head_dim", raw.GetInt("head_dim", null) ?? Hidden / Heads);
        MaxPositions = Positive("max_position_embeddings", raw.GetInt("max_position_embeddings", 2048));
        RmsNormEps = raw.GetDouble("rms_norm_eps", 1e-6)!.Value;
        Activation = raw.GetString("hidden_act", "silu")!;
        AttentionDropout = Probability("attention_dropout", 0.0);
        bool isQwen2 = ModelType == "qwen2";
        QkvBias = isQwen2 || raw.GetBool("attention_bias", false);
        OutputBias = !isQwen2 && raw.GetBool("attention_bias", false);
        MlpBias = raw.GetBool("mlp_bias", false);
        SlidingWindow = ModelType switch
        {
            "mistral" => raw.GetInt("sliding_window", null),
            "qwen2" when raw.GetBool("use_sliding_window", false) => raw.GetInt("sliding_window", null),
            _ => null,
        };
        if (isQwen2 && SlidingWindow != null && raw.GetInt("max_window_layers", Layers) < Layers)
            throw new PeftException($"{raw.Source}: Qwen2 sliding window on only some layers (max_window_layers) is not supported");
        if (Heads % KvHeads != 0)
            throw new PeftException($"{raw.Source}: num_attention_heads {Heads} is not a multiple of num_key_value_heads {KvHeads}");
        Rope = RopeConfig.From(raw, HeadDim, MaxPositions);
    }

    public int VocabSize { get; }
    public int Hidden { get; }
    public int Intermediate { get; }
    public int Layers { get; }
    public int Heads { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int MaxPositions { get; }

    public override int? PositionLimit => MaxPositions;
    public double RmsNormEps { get; }
    public string Activation { get; }
    public double AttentionDropout { get; }
    public bool QkvBias { get; }
    public bool OutputBias { get; }
    public bool MlpBias { get; }
    public int? SlidingWindow { get; }
    public RopeConfig Rope { get; }
    protected override bool DefaultTieWordEmbeddings => false;
}
