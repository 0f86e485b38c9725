namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Shape checks shared by the text metrics. References are per hypothesis: <c>references[i]</c> lists the
/// reference(s) of <c>hypotheses[i]</c> (sacreBLEU's API takes the transpose, one stream per reference set;
/// <see cref="FromStreams"/> converts).
/// </summary>
public static class MetricInputs
{
    public static void Check(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count == 0)
            throw new PeftException("there are no hypotheses to score");
        if (hypotheses.Count != references.Count)
            throw new PeftException(
                $"{hypotheses.Count} hypotheses but {references.Count} reference entries; they must pair up one to one");
        for (int i = 0; i < references.Count; i++)
        {
            if (references[i] is null || references[i].Count == 0)
                throw new PeftException($"hypothesis {i + 1} has no reference");
        }
    }

    /// <summary>Turns reference streams (stream k = the k-th reference of every hypothesis) into per-hypothesis lists.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> FromStreams(IReadOnlyList<IReadOnlyList<string>> streams)
    {
        ArgumentNullException.ThrowIfNull(streams);
        if (streams.Count == 0) throw new PeftException("no reference streams given");
        int n = streams[0].Count;
        for (int k = 1; k < streams.Count; k++)
        {
            if (streams[k].Count != n)
                throw new PeftException(
                    $"reference stream {k + 1} has {streams[k].Count} segments but stream 1 has {n}");
        }
        var result = new IReadOnlyList<string>[n];
        for (int i = 0; i < n; i++) result[i] = streams.Select(s => s[i]).ToArray();
        return result;
    }

    /// <summary>sacreBLEU's <c>nrefs</c> signature field: the count, or <c>var</c> when it differs between segments.</summary>
    public static string NRefs(IReadOnlyList<IReadOnlyList<string>> references)
    {
        int n = references.Count > 0 ? references[0].Count : 0;
        return references.All(r => r.Count == n) ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : "var";
    }
}
