namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Longest common subsequences for ROUGE-L. The summary-level variant needs one particular LCS (the one
/// rouge_score's backtracking picks, preferring to drop candidate tokens on ties), because the union of those
/// index sets decides rougeLsum.
/// </summary>
internal static class Lcs
{
    public static int[,] Table(IReadOnlyList<string> reference, IReadOnlyList<string> candidate)
    {
        int rows = reference.Count, cols = candidate.Count;
        var t = new int[rows + 1, cols + 1];
        for (int i = 1; i <= rows; i++)
        {
            for (int j = 1; j <= cols; j++)
            {
                t[i, j] = string.Equals(reference[i - 1], candidate[j - 1], StringComparison.Ordinal)
                    ? t[i - 1, j - 1] + 1
                    : Math.Max(t[i - 1, j], t[i, j - 1]);
            }
        }
        return t;
    }

    public static int Length(IReadOnlyList<string> reference, IReadOnlyList<string> candidate) =>
        Table(reference, candidate)[reference.Count, candidate.Count];

    /// <summary>Indices into <paramref name="reference"/> of one LCS, read back from the table.</summary>
    public static List<int> ReferenceIndices(IReadOnlyList<string> reference, IReadOnlyList<string> candidate)
    {
        var t = Table(reference, candidate);
        int i = reference.Count, j = candidate.Count;
        var indices = new List<int>();
        while (i > 0 && j > 0)
        {
            if (string.Equals(reference[i - 1], candidate[j - 1], StringComparison.Ordinal))
            {
                indices.Add(i - 1);
                i--;
                j--;
            }
            else if (t[i, j - 1] > t[i - 1, j])
            {
                j--;
            }
            else
            {
                i--;
            }
        }
        indices.Reverse();
        return indices;
    }
}
