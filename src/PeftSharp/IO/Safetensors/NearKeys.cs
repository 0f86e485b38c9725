namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Suggests keys close to a missing one. Most "tensor not found" errors are a prefix mismatch
/// ("model." vs none) or a typo, and seeing the near keys fixes them faster than any explanation.
/// </summary>
internal static class NearKeys
{
    public static IReadOnlyList<string> Find(string wanted, IEnumerable<string> keys, int count = 3) => keys
        .Select(k => (Key: k, Distance: Distance(wanted, k)))
        .OrderBy(x => x.Distance).ThenBy(x => x.Key, StringComparer.Ordinal)
        .Take(count)
        .Select(x => x.Key)
        .ToList();

    /// <summary>The "not found" message shared by every tensor source.</summary>
    public static string NotFoundMessage(string wanted, string where, IReadOnlyCollection<string> keys)
    {
        if (keys.Count == 0) return $"tensor '{wanted}' not found in {where}: it holds no tensors";
        var near = Find(wanted, keys);
        return $"tensor '{wanted}' not found in {where} ({keys.Count} tensors); closest: {string.Join(", ", near.Select(k => $"'{k}'"))}";
    }

    /// <summary>Levenshtein distance, two rows.</summary>
    internal static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
