using PeftSharp.Data;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// Which unlabelled examples to label next (active learning, Settles 2009): the ones the model is least sure of, so a
/// label teaches most. Scores of a class distribution p (sorted p₁ ≥ p₂ ≥ ...), each ranked most uncertain first:
/// <code>entropy          H(p) = −Σ pᵢ ln pᵢ         (higher: more uncertain)
/// margin           p₁ − p₂                    (lower)
/// least-confidence 1 − p₁                     (higher)
/// random           a seeded permutation (the baseline every strategy must beat)
/// perplexity       exp(mean loss of the answer) (instruction data: higher, the model knows it least)</code>
/// With <c>diverse</c>, the N are not simply the N most uncertain, which in a batch tend to be near-duplicates: from the
/// 5N most uncertain, k-center greedy on sentence embeddings (Sener and Savarese 2018) picks the most uncertain first, then
/// each time the candidate farthest (by cosine) from everything picked. Ties break by pool order: a seed gives one answer.
/// </summary>
public static class ActiveSelection
{
    public static readonly IReadOnlyList<string> Strategies = ["entropy", "margin", "least-confidence", "random", "perplexity"];

    /// <summary>How many candidates per pick --diverse chooses among.</summary>
    public const int DiverseCandidatesPerPick = 5;

    /// <summary>A strategy's score of one class distribution (for perplexity, pass the example's answer loss instead).</summary>
    public static double Score(string strategy, IReadOnlyList<double> p)
    {
        var sorted = p.OrderDescending().ToArray();
        return strategy switch
        {
            "entropy" => -p.Where(x => x > 0).Sum(x => x * Math.Log(x)),
            "margin" => sorted[0] - (sorted.Length > 1 ? sorted[1] : 0),
            "least-confidence" => 1 - sorted[0],
            _ => throw new PeftException($"strategy \"{strategy}\" does not score class probabilities (one of entropy, margin, least-confidence)"),
        };
    }

    /// <summary>Whether a higher score means more uncertain (margin: lower is).</summary>
    public static bool HigherIsMoreUncertain(string strategy) => strategy != "margin";

    /// <summary>
    /// The indices of the <paramref name="count"/> examples to label, in the order chosen, from their
    /// <paramref name="scores"/> (ignored for random). <paramref name="embeddings"/> (unit rows) are needed with diverse.
    /// </summary>
    public static IReadOnlyList<int> Choose(string strategy, IReadOnlyList<double> scores, int count, long seed, bool diverse = false, float[][]? embeddings = null)
    {
        if (!Strategies.Contains(strategy)) throw new PeftException($"--strategy \"{strategy}\" is not one of {string.Join(", ", Strategies)}");
        if (count < 1) throw new PeftException($"--count must be at least 1, not {count}");
        int n = scores.Count;
        count = Math.Min(count, n);
        if (strategy == "random")
        {
            if (diverse) throw new PeftException("--diverse refines an uncertainty strategy; random has no ranking to refine");
            return DataRandom.For(seed, 0x5e1ec7).Permutation(n).Take(count).ToList();
        }
        bool higher = HigherIsMoreUncertain(strategy);
        var ranked = Enumerable.Range(0, n).OrderBy(i => higher ? -scores[i] : scores[i]).ThenBy(i => i).ToList();
        if (!diverse) return ranked.Take(count).ToList();
        if (embeddings == null || embeddings.Length != n) throw new PeftException("--diverse needs an embedding of every pool example");
        var candidates = ranked.Take(Math.Min(n, count * DiverseCandidatesPerPick)).ToList();
        return KCenterGreedy(candidates, embeddings, count);
    }

    /// <summary>Farthest-first traversal: start with the first candidate, then add the one whose nearest picked example is farthest.</summary>
    private static List<int> KCenterGreedy(List<int> candidates, float[][] e, int count)
    {
        var picked = new List<int> { candidates[0] };
        var nearest = candidates.Select(c => Distance(e[c], e[candidates[0]])).ToArray();
        while (picked.Count < count)
        {
            int best = -1;
            for (int j = 0; j < candidates.Count; j++)
                if (!picked.Contains(candidates[j]) && (best < 0 || nearest[j] > nearest[best])) best = j;
            picked.Add(candidates[best]);
            for (int j = 0; j < candidates.Count; j++) nearest[j] = Math.Min(nearest[j], Distance(e[candidates[j]], e[candidates[best]]));
        }
        return picked;
    }

    /// <summary>1 − cosine of two unit vectors.</summary>
    private static double Distance(float[] a, float[] b)
    {
        double dot = 0;
        for (int i = 0; i < a.Length; i++) dot += (double)a[i] * b[i];
        return 1 - dot;
    }
}
