namespace PeftSharp.IO;

/// <summary>
/// How far apart two names are, for the "did you mean" and "closest" hints of error messages (tensor keys, target
/// modules, command-line flags): the one implementation they all share.
/// </summary>
public static class EditDistance
{
    /// <summary>Levenshtein distance: insertions, deletions and substitutions, one edit each.</summary>
    public static int Levenshtein(string a, string b) => Compute(a, b, swaps: false);

    /// <summary>As <see cref="Levenshtein"/>, with a swap of two neighbouring letters as one edit (--modle for --model).</summary>
    public static int WithSwaps(string a, string b) => Compute(a, b, swaps: true);

    private static int Compute(string a, string b, bool swaps)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (swaps && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
