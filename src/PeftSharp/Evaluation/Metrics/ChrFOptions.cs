namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// chrF's settings with sacreBLEU's defaults. chrF++ is chrF with <see cref="WordOrder"/> 2; like BLEU's, these go
/// into the signature because each changes the score.
/// </summary>
public sealed record ChrFOptions
{
    public int CharOrder { get; init; } = 6;
    public int WordOrder { get; init; }
    public int Beta { get; init; } = 2;
    public bool Lowercase { get; init; }
    /// <summary>Keep whitespace inside character n-grams (off in sacreBLEU and in the original chrF).</summary>
    public bool Whitespace { get; init; }
    /// <summary>chrF++.py-style epsilon smoothing instead of sacreBLEU's effective-order averaging.</summary>
    public bool EpsSmoothing { get; init; }

    public static ChrFOptions ChrF { get; } = new();
    public static ChrFOptions ChrFPlusPlus { get; } = new() { WordOrder = 2 };
}
