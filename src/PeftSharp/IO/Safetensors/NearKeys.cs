namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Suggests keys close to a missing one. Most "tensor not found" errors are a prefix mismatch
/// ("model." vs none) or a typo, and seeing the near keys fixes them faster than any explanation.
/// </summary>
internal static class NearKeys
{
    public static IReadOnlyList<string> Find(string wanted, IEnumerable<string> keys, int count = 3) => keys
        .Select(k => (Key: k, Distance: EditDistance.Levenshtein(wanted, k)))
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
}
