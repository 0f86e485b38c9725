using PeftSharp.IO;

namespace PeftSharp.Models;

/// <summary>
/// What every architecture's config shares: the model_type that picks the implementation and the
/// raw config.json, kept whole so that saving a merged model writes back every field it was given.
/// </summary>
public abstract class ModelConfig
{
    protected ModelConfig(JsonConfig raw)
    {
        Raw = raw;
        ModelType = raw.GetString("model_type");
        Architectures = raw.GetStringList("architectures") ?? [];
        TieWordEmbeddings = raw.GetBool("tie_word_embeddings", DefaultTieWordEmbeddings);
        PadTokenId = raw.GetInt("pad_token_id", null);
        BosTokenId = raw.GetInt("bos_token_id", null);
        EosTokenId = raw.GetInt("eos_token_id", null);
    }

    public JsonConfig Raw { get; }
    public string ModelType { get; }
    public IReadOnlyList<string> Architectures { get; }
    public bool TieWordEmbeddings { get; }
    public int? PadTokenId { get; }
    public int? BosTokenId { get; }
    public int? EosTokenId { get; }
    protected virtual bool DefaultTieWordEmbeddings => true;

    /// <summary>The longest input the position embeddings cover (n_positions, max_position_embeddings); null when unbounded (relative positions).</summary>
    public virtual int? PositionLimit => null;

    protected int Positive(string key, int? value)
    {
        var v = value ?? throw new PeftException($"{Raw.Source}: required field \"{key}\" is missing");
        if (v <= 0) throw new PeftException($"{Raw.Source}: \"{key}\" must be positive, got {v}");
        return v;
    }

    protected double Probability(string key, double fallback)
    {
        var p = Raw.GetDouble(key, fallback)!.Value;
        if (p < 0 || p >= 1) throw new PeftException($"{Raw.Source}: \"{key}\" must be in [0, 1), got {p}");
        return p;
    }
}
