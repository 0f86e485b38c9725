namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// A BLEU result with the statistics behind it, so a score can be checked against sacreBLEU field by field.
/// Counts and totals are doubles because add-k smoothing adds its (possibly fractional) value to them, and sacreBLEU
/// reports them after that addition.
/// </summary>
public sealed record BleuScore(
    double Score,
    IReadOnlyList<double> Counts,
    IReadOnlyList<double> Totals,
    IReadOnlyList<double> Precisions,
    double BrevityPenalty,
    int SysLen,
    int RefLen)
{
    public double Ratio => RefLen != 0 ? (double)SysLen / RefLen : 0;

    /// <summary>The part after the score in sacreBLEU's line: <c>55.6/30.0/18.2/11.1 (BP = 1.000 ratio = ...)</c>.</summary>
    public string Verbose =>
        string.Join('/', Precisions.Select(p => PyFormat.Fixed(p, 1)))
        + $" (BP = {PyFormat.Fixed(BrevityPenalty, 3)} ratio = {PyFormat.Fixed(Ratio, 3)} hyp_len = {SysLen} ref_len = {RefLen})";

    /// <summary>sacreBLEU's text line, e.g. <c>BLEU|nrefs:1|...|version:... = 24.52 55.6/30.0/...</c>.</summary>
    public string Format(string? signature = null, int width = 2)
    {
        string name = string.IsNullOrEmpty(signature) ? "BLEU" : $"BLEU|{signature}";
        return $"{name} = {PyFormat.Fixed(Score, width)} {Verbose}";
    }
}
