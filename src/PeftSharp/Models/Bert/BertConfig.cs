using PeftSharp.IO;

namespace PeftSharp.Models.Bert;

/// <summary>The BERT family's config.json (BERT, MiniLM and other BertModel checkpoints).</summary>
public sealed class BertConfig : ModelConfig
{
    /// <summary>PeftSharp's config.json key for the classifier's input: "cls" (transformers' pooler) or "mean".</summary>
    public const string PoolingKey = "classifier_pooling";

    public BertConfig(JsonConfig raw) : base(raw)
    {
        ClassifierPooling = raw.GetString(PoolingKey, "cls")!;
        if (ClassifierPooling is not ("cls" or "mean")) throw new PeftException($"{raw.Source}: \"{PoolingKey}\" must be cls or mean");
        VocabSize = Positive("vocab_size", raw.GetInt("vocab_size", 30522));
        Hidden = Positive("hidden_size", raw.GetInt("hidden_size", 768));
        Layers = Positive("num_hidden_layers", raw.GetInt("num_hidden_layers", 12));
        Heads = Positive("num_attention_heads", raw.GetInt("num_attention_heads", 12));
        Intermediate = Positive("intermediate_size", raw.GetInt("intermediate_size", 3072));
        Activation = raw.GetString("hidden_act", "gelu")!;
        HiddenDropout = Probability("hidden_dropout_prob", 0.1);
        AttentionDropout = Probability("attention_probs_dropout_prob", 0.1);
        MaxPositions = Positive("max_position_embeddings", raw.GetInt("max_position_embeddings", 512));
        TypeVocabSize = Positive("type_vocab_size", raw.GetInt("type_vocab_size", 2));
        LayerNormEps = raw.GetDouble("layer_norm_eps", 1e-12)!.Value;
        ClassifierDropout = raw.Has("classifier_dropout") ? Probability("classifier_dropout", 0.1) : HiddenDropout;
        var positionType = raw.GetString("position_embedding_type", "absolute");
        if (positionType != "absolute")
            throw new PeftException($"{raw.Source}: position_embedding_type \"{positionType}\" is not supported (only absolute)");
        if (Hidden % Heads != 0) throw new PeftException($"{raw.Source}: hidden_size {Hidden} is not divisible by num_attention_heads {Heads}");
        var id2label = raw.GetObject("id2label");
        NumLabels = raw.GetInt("num_labels", null) ?? (id2label != null ? id2label.Root.Count : 2);
        if (NumLabels <= 0) throw new PeftException($"{raw.Source}: the number of labels must be positive");
    }

    public int VocabSize { get; }
    public int Hidden { get; }
    public int Layers { get; }
    public int Heads { get; }
    public int Intermediate { get; }
    public string Activation { get; }
    public double HiddenDropout { get; }
    public double AttentionDropout { get; }
    public int MaxPositions { get; }

    public override int? PositionLimit => MaxPositions;
    public int TypeVocabSize { get; }
    public double LayerNormEps { get; }
    public double ClassifierDropout { get; }
    public int NumLabels { get; }
    public string ClassifierPooling { get; }
    public int HeadDim => Hidden / Heads;
}
