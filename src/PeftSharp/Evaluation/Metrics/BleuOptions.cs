namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// BLEU's settings, with sacreBLEU's defaults. Every one of them changes the number, so all of them appear in the
/// signature that should accompany a reported score.
/// </summary>
public sealed record BleuOptions
{
    /// <summary>One of <see cref="BleuTokenizers.Names"/>.</summary>
    public string Tokenize { get; init; } = "13a";
    public bool Lowercase { get; init; }
    public BleuSmoothing Smoothing { get; init; } = BleuSmoothing.Exp;
    /// <summary>For floor and add-k; null means sacreBLEU's default (0.1 and 1).</summary>
    public double? SmoothValue { get; init; }
    public int MaxNgramOrder { get; init; } = 4;
    /// <summary>Average only over the orders the hypothesis is long enough to have; sacreBLEU's sentence_bleu sets it.</summary>
    public bool EffectiveOrder { get; init; }
}
