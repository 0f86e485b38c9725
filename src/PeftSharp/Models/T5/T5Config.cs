using PeftSharp.IO;

namespace PeftSharp.Models.T5;

/// <summary>T5's config.json (t5, flan-t5 style gated-gelu, mT5-like untied heads).</summary>
public sealed class T5Config : ModelConfig
{
    public T5Config(JsonConfig raw) : base(raw)
    {
        VocabSize = Positive("vocab_size", raw.GetInt("vocab_size", 32128));
        DModel = Positive("d_model", raw.GetInt("d_model", 512));
        DKv = Positive("d_kv", raw.GetInt("d_kv", 64));
        DFf = Positive("d_ff", raw.GetInt("d_ff", 2048));
        Layers = Positive("num_layers", raw.GetInt("num_layers", 6));
        DecoderLayers = Positive("num_decoder_layers", raw.GetInt("num_decoder_layers", null) ?? Layers);
        Heads = Positive("num_heads", raw.GetInt("num_heads", 8));
        Buckets = Positive("relative_attention_num_buckets", raw.GetInt("relative_attention_num_buckets", 32));
        MaxDistance = Positive("relative_attention_max_distance", raw.GetInt("relative_attention_max_distance", 128));
        Dropout = Probability("dropout_rate", 0.1);
        LayerNormEps = raw.GetDouble("layer_norm_epsilon", 1e-6)!.Value;
        var proj = raw.GetString("feed_forward_proj", "relu")!;
        var parts = proj.Split('-');
        IsGated = parts[0] == "gated";
        if (parts.Length > 2 || (parts.Length == 2 && !IsGated))
            throw new PeftException($"{raw.Source}: feed_forward_proj \"{proj}\" must be an activation or gated-<activation>");
        Activation = proj == "gated-gelu" ? "gelu_new" : parts[^1];
        DecoderStartTokenId = raw.GetInt("decoder_start_token_id", null) ?? PadTokenId ?? 0;
    }

    public int VocabSize { get; }
    public int DModel { get; }
    public int DKv { get; }
    public int DFf { get; }
    public int Layers { get; }
    public int DecoderLayers { get; }
    public int Heads { get; }
    public int Buckets { get; }
    public int MaxDistance { get; }
    public double Dropout { get; }
    public double LayerNormEps { get; }
    public bool IsGated { get; }
    public string Activation { get; }
    public int DecoderStartTokenId { get; }
    public long InnerDim => (long)Heads * DKv;
}
