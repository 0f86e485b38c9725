namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// How BLEU treats an n-gram order with no match (Chen and Cherry, 2014). Without smoothing one missing 4-gram
/// zeroes a sentence's score, which is why sentence-level BLEU needs one of these.
/// </summary>
public enum BleuSmoothing
{
    /// <summary>mteval-v13a's method: 1/(2^k * total) for the k-th order without matches. sacreBLEU's default.</summary>
    Exp,
    /// <summary>A zero match count becomes the smoothing value (default 0.1).</summary>
    Floor,
    /// <summary>Adds the smoothing value (default 1) to matches and totals of orders 2 and up.</summary>
    AddK,
    None,
}

/// <summary>The names and default values sacreBLEU uses for <see cref="BleuSmoothing"/>.</summary>
public static class BleuSmoothings
{
    public static IReadOnlyList<string> Names { get; } = ["exp", "floor", "add-k", "none"];

    public static string Name(BleuSmoothing method) => method switch
    {
        BleuSmoothing.Exp => "exp",
        BleuSmoothing.Floor => "floor",
        BleuSmoothing.AddK => "add-k",
        _ => "none",
    };

    public static BleuSmoothing Parse(string name) => name switch
    {
        "exp" => BleuSmoothing.Exp,
        "floor" => BleuSmoothing.Floor,
        "add-k" => BleuSmoothing.AddK,
        "none" => BleuSmoothing.None,
        _ => throw new PeftException($"unknown BLEU smoothing '{name}'; use one of {string.Join(", ", Names)}"),
    };

    /// <summary>The value used when none is given; null for methods that take none.</summary>
    public static double? DefaultValue(BleuSmoothing method) => method switch
    {
        BleuSmoothing.Floor => 0.1,
        BleuSmoothing.AddK => 1.0,
        _ => null,
    };
}
