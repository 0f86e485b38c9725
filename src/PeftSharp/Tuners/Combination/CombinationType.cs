namespace PeftSharp.Tuners.Combination;

/// <summary>
/// PEFT 0.18.1's combination types for add_weighted_adapter, by their names there. The SVD family combines the
/// adapters' full updates ΔWᵢ = sᵢ BᵢAᵢ and truncates the result to a rank with an SVD; the others combine the A and
/// the B matrices separately (cheap, but the product of two weighted sums is not the weighted sum of the products);
/// cat stacks the adapters side by side, which is exact.
/// </summary>
public enum CombinationType
{
    Svd,
    Linear,
    Cat,
    Ties,
    TiesSvd,
    DareLinear,
    DareTies,
    DareLinearSvd,
    DareTiesSvd,
    MagnitudePrune,
    MagnitudePruneSvd,
}

/// <summary>What each combination type is made of.</summary>
public static class CombinationTypes
{
    private static readonly Dictionary<string, CombinationType> ByName = Enum.GetValues<CombinationType>().ToDictionary(NameOf, StringComparer.Ordinal);

    /// <summary>Every type's PEFT name, in PEFT's documentation order.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["svd", "linear", "cat", "ties", "ties_svd", "dare_ties", "dare_linear", "dare_ties_svd", "dare_linear_svd", "magnitude_prune", "magnitude_prune_svd"];

    /// <summary>PEFT's name: "dare_ties_svd".</summary>
    public static string NameOf(CombinationType type) => type switch
    {
        CombinationType.Svd => "svd",
        CombinationType.Linear => "linear",
        CombinationType.Cat => "cat",
        CombinationType.Ties => "ties",
        CombinationType.TiesSvd => "ties_svd",
        CombinationType.DareLinear => "dare_linear",
        CombinationType.DareTies => "dare_ties",
        CombinationType.DareLinearSvd => "dare_linear_svd",
        CombinationType.DareTiesSvd => "dare_ties_svd",
        CombinationType.MagnitudePrune => "magnitude_prune",
        CombinationType.MagnitudePruneSvd => "magnitude_prune_svd",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static CombinationType Parse(string name) =>
        ByName.TryGetValue(name.Trim().ToLowerInvariant(), out var t) ? t
            : throw new PeftException($"unknown combination type \"{name}\": use one of {string.Join(", ", Names)}");

    /// <summary>Combines the full updates and truncates them with an SVD.</summary>
    public static bool IsSvd(this CombinationType t) => t is CombinationType.Svd or CombinationType.TiesSvd or CombinationType.DareLinearSvd
        or CombinationType.DareTiesSvd or CombinationType.MagnitudePruneSvd;

    /// <summary>The rule applied to the task tensors (for the SVD family, to the ΔWᵢ; otherwise to the As and to the Bs).</summary>
    public static TaskRule Rule(this CombinationType t) => t switch
    {
        CombinationType.Svd or CombinationType.Linear or CombinationType.Cat => TaskRule.Sum,
        CombinationType.Ties or CombinationType.TiesSvd => TaskRule.Ties,
        CombinationType.DareLinear or CombinationType.DareLinearSvd => TaskRule.DareSum,
        CombinationType.DareTies or CombinationType.DareTiesSvd => TaskRule.DareTies,
        CombinationType.MagnitudePrune or CombinationType.MagnitudePruneSvd => TaskRule.MagnitudePruneSum,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>Needs a density (the fraction of entries each task tensor keeps).</summary>
    public static bool UsesDensity(this CombinationType t) => t.Rule() != TaskRule.Sum;

    /// <summary>Elects a sign per entry (TIES): majority_sign_method applies.</summary>
    public static bool ElectsSigns(this CombinationType t) => t.Rule() is TaskRule.Ties or TaskRule.DareTies;

    /// <summary>Drops entries at random (DARE): the seed applies.</summary>
    public static bool IsRandom(this CombinationType t) => t.Rule() is TaskRule.DareSum or TaskRule.DareTies;

    /// <summary>Stacks A and B matrices of each module, so every adapter must have the same rank there (linear, ties, dare_*, magnitude_prune).</summary>
    public static bool NeedsEqualRanks(this CombinationType t) => !t.IsSvd() && t != CombinationType.Cat;
}

/// <summary>How a list of task tensors τᵢ with weights wᵢ becomes one (PEFT's merge_utils).</summary>
public enum TaskRule
{
    /// <summary>Σ wᵢτᵢ (task arithmetic).</summary>
    Sum,
    /// <summary>Σ wᵢ·top_k(τᵢ): each τᵢ keeps its largest-magnitude fraction (density) of entries.</summary>
    MagnitudePruneSum,
    /// <summary>TIES: top-k pruning, a sign elected per entry, the mean of the weighted entries that agree with it.</summary>
    Ties,
    /// <summary>DARE: each entry kept with probability density and rescaled by 1/density, then Σ wᵢτ̃ᵢ.</summary>
    DareSum,
    /// <summary>DARE's random drop and rescale, then TIES' sign election and disjoint mean.</summary>
    DareTies,
}

/// <summary>TIES' sign election: by the sum of the entries (total) or by the count of each sign (frequency).</summary>
public enum MajoritySignMethod
{
    Total,
    Frequency,
}
