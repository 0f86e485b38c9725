namespace PeftSharp.Generation;

/// <summary>
/// How to pick tokens, with the meanings transformers' generate() gives the same names. Greedy by
/// default; DoSample turns on temperature, top-k and top-p.
/// </summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 32;
    public bool DoSample { get; init; }
    public double Temperature { get; init; } = 1.0;
    /// <summary>0 disables top-k.</summary>
    public int TopK { get; init; }
    /// <summary>1 disables top-p (nucleus) filtering.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>1 disables it; above 1 discourages tokens already in the sequence (CTRL-style, as transformers).</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    /// <summary>Generation of a row ends after any of these tokens (usually the EOS ids).</summary>
    public IReadOnlyCollection<long> StopTokenIds { get; init; } = [];
    /// <summary>Written after a row has stopped, while other rows continue.</summary>
    public long PadTokenId { get; init; }
    public long? Seed { get; init; }
    /// <summary>Keep keys and values of earlier positions; off recomputes the whole sequence each step.</summary>
    public bool UseCache { get; init; } = true;

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new PeftException($"max new tokens must be >= 0, got {MaxNewTokens}");
        if (DoSample && Temperature <= 0) throw new PeftException($"temperature must be > 0, got {Temperature}");
        if (TopK < 0) throw new PeftException($"top-k must be >= 0, got {TopK}");
        if (TopP <= 0 || TopP > 1) throw new PeftException($"top-p must be in (0, 1], got {TopP}");
        if (RepetitionPenalty <= 0) throw new PeftException($"repetition penalty must be > 0, got {RepetitionPenalty}");
    }
}
