using System.Globalization;

namespace PeftSharp.Tuners.Combination;

/// <summary>
/// How adapters are combined into a new one: PEFT 0.18.1's add_weighted_adapter parameters, plus a seed for DARE's
/// random drop (the same seed gives the same tensors on any machine: <see cref="SeededMask"/>) and a switch for PEFT
/// 0.18.1's SVD scaling. Where PEFT 0.18.1 computes something other than its documented formula, PeftSharp computes the
/// formula, and this type's members say where (docs/combining.md has the list).
/// </summary>
public sealed record AdapterCombination
{
    public AdapterCombination(CombinationType type) => Type = type;

    public CombinationType Type { get; init; }

    /// <summary>
    /// The fraction of each task tensor's entries kept, in (0, 1], for the types that prune (ties, dare_*, magnitude_prune);
    /// required by them, refused by the others. At 1 nothing is pruned: dare_linear is then linear and dare_ties ties.
    /// </summary>
    public double? Density { get; init; }

    /// <summary>TIES' sign election (ties, ties_svd, dare_ties, dare_ties_svd): total (PEFT's default) or frequency.</summary>
    public MajoritySignMethod MajoritySignMethod { get; init; } = MajoritySignMethod.Total;

    /// <summary>The SVD family's rank; null for the largest rank among the sources (PEFT's default).</summary>
    public int? SvdRank { get; init; }

    /// <summary>
    /// The SVD family's clamp: a quantile q in (0, 1] of the entries of U·S and Vh; every entry is clamped to
    /// [-v, v] with v that quantile, as PEFT's svd_clamp. Null: no clamping.
    /// </summary>
    public double? SvdClamp { get; init; }

    /// <summary>PEFT's svd_full_matrices: the full or the reduced SVD (the truncated factors are the same in exact arithmetic).</summary>
    public bool SvdFullMatrices { get; init; } = true;

    /// <summary>DARE's random drop is drawn from this seed (and each module's name and tensor), never from the global generator.</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// PEFT 0.18.1's SVD family weights each adapter's ΔWᵢ (which already holds its scaling sᵢ) by wᵢ·sᵢ, so the result
    /// is the truncation of Σ wᵢ sᵢ² BᵢAᵢ: the scaling twice. False (the default) truncates Σ wᵢ ΔWᵢ, the documented
    /// formula; true reproduces files PEFT 0.18.1 wrote.
    /// </summary>
    public bool Peft018SvdScaling { get; init; }

    /// <summary>Checks the parameters against the type and the number of adapters and weights: one clear line for each mistake.</summary>
    public void Validate(int adapters, int weights)
    {
        string name = CombinationTypes.NameOf(Type);
        if (adapters == 0) throw new PeftException("give at least one adapter to combine");
        if (weights != adapters)
            throw new PeftException($"{weights} weight(s) for {adapters} adapter(s): give one weight per adapter, in the same order");
        if (Type.UsesDensity())
        {
            if (Density is not { } d) throw new PeftException($"combination {name} prunes each adapter's tensors: give a density in (0, 1] (the fraction of entries kept)");
            if (!(d > 0 && d <= 1)) throw new PeftException(string.Create(CultureInfo.InvariantCulture, $"density must be in (0, 1], got {d}"));
        }
        else if (Density is not null)
            throw new PeftException($"combination {name} does not prune, so density does not apply; the types that use it: {string.Join(", ", CombinationTypes.Names.Where(n => CombinationTypes.Parse(n).UsesDensity()))}");
        if (!Type.ElectsSigns() && MajoritySignMethod != MajoritySignMethod.Total)
            throw new PeftException($"combination {name} elects no signs, so majority_sign_method does not apply (ties, ties_svd, dare_ties, dare_ties_svd use it)");
        if (!Type.IsSvd())
        {
            if (SvdRank is not null || SvdClamp is not null)
                throw new PeftException($"combination {name} makes no SVD, so svd_rank and svd_clamp do not apply (the *_svd types and svd use them)");
        }
        if (SvdRank is { } r && r <= 0) throw new PeftException($"svd_rank must be positive, got {r}");
        if (SvdClamp is { } q && !(q > 0 && q <= 1)) throw new PeftException(string.Create(CultureInfo.InvariantCulture, $"svd_clamp is a quantile in (0, 1], got {q}"));
    }

    /// <summary>One line for reports and the CLI: "ties_svd, density 0.4, svd_rank 5".</summary>
    public override string ToString()
    {
        var parts = new List<string> { CombinationTypes.NameOf(Type) };
        if (Density is { } d) parts.Add(string.Create(CultureInfo.InvariantCulture, $"density {d:G6}"));
        if (Type.ElectsSigns()) parts.Add($"majority sign by {MajoritySignMethod.ToString().ToLowerInvariant()}");
        if (Type.IsSvd()) parts.Add(SvdRank is { } r ? $"svd_rank {r}" : "svd_rank = the largest source rank");
        if (SvdClamp is { } q) parts.Add(string.Create(CultureInfo.InvariantCulture, $"svd_clamp {q:G6}"));
        if (Type.IsRandom()) parts.Add($"seed {Seed}");
        if (Peft018SvdScaling && Type.IsSvd()) parts.Add("PEFT 0.18.1's double scaling");
        return string.Join(", ", parts);
    }
}
