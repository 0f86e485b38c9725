namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// A chrF result in [0, 100] with sacreBLEU's sufficient statistics: for each order (characters 1..n, then words
/// 1..m) the hypothesis n-gram count, the reference n-gram count and the matches.
/// </summary>
public sealed record ChrFScore(double Score, IReadOnlyList<long> Statistics, int CharOrder, int WordOrder, int Beta)
{
    /// <summary>sacreBLEU's name: <c>chrF2</c>, and one '+' per word order (<c>chrF2++</c>).</summary>
    public string Name => $"chrF{Beta}" + new string('+', WordOrder);

    /// <summary>sacreBLEU's text line, e.g. <c>chrF2|nrefs:1|...|version:... = 51.23</c>.</summary>
    public string Format(string? signature = null, int width = 2)
    {
        string name = string.IsNullOrEmpty(signature) ? Name : $"{Name}|{signature}";
        return $"{name} = {PyFormat.Fixed(Score, width)}";
    }
}
