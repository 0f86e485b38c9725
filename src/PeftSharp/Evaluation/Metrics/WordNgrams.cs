namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Counts n-grams of whitespace-free tokens. An n-gram is keyed by its tokens joined with a space, which is
/// unambiguous because tokens never contain whitespace (the reference implementations key by tuple).
/// </summary>
internal static class WordNgrams
{
    public static Dictionary<string, int> Count(IReadOnlyList<string> tokens, int minOrder, int maxOrder)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int n = minOrder; n <= maxOrder; n++)
        {
            for (int i = 0; i + n <= tokens.Count; i++)
            {
                string key = n == 1 ? tokens[i] : string.Join(' ', tokens.Skip(i).Take(n));
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }
        return counts;
    }

    /// <summary>The order of an n-gram key built by <see cref="Count"/>.</summary>
    public static int Order(string key)
    {
        int n = 1;
        foreach (char c in key) if (c == ' ') n++;
        return n;
    }
}
