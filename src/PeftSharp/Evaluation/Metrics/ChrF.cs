namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// chrF and chrF++ exactly as sacreBLEU 2.x computes them: character n-grams without whitespace, optional word
/// n-grams with punctuation split off word edges, per segment the reference with the best F-score, and
/// effective-order averaging of precision and recall before the F-beta.
/// </summary>
public sealed class ChrF
{
    private static readonly HashSet<char> Punctuation = [.. "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"];

    public ChrF(ChrFOptions? options = null)
    {
        Options = options ?? ChrFOptions.ChrF;
        if (Options.CharOrder < 0 || Options.WordOrder < 0 || Options.CharOrder + Options.WordOrder == 0)
            throw new PeftException("chrF needs a positive character or word n-gram order");
    }

    public ChrFOptions Options { get; }

    private int Order => Options.CharOrder + Options.WordOrder;

    /// <summary>Corpus chrF; <paramref name="references"/>[i] are the references of hypothesis i.</summary>
    public ChrFScore CorpusScore(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        MetricInputs.Check(hypotheses, references);
        var sum = new long[3 * Order];
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var stats = SegmentStatistics(hypotheses[i], references[i]);
            for (int k = 0; k < sum.Length; k++) sum[k] += stats[k];
        }
        return new ChrFScore(FScore(sum), sum, Options.CharOrder, Options.WordOrder, Options.Beta);
    }

    public ChrFScore SentenceScore(string hypothesis, IReadOnlyList<string> references) =>
        CorpusScore([hypothesis], [references]);

    /// <summary>e.g. <c>nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:...</c>.</summary>
    public string Signature(IReadOnlyList<IReadOnlyList<string>> references) => Signature(MetricInputs.NRefs(references));

    public string Signature(string nrefs) =>
        $"nrefs:{nrefs}|case:{(Options.Lowercase ? "lc" : "mixed")}|eff:{(Options.EpsSmoothing ? "no" : "yes")}"
        + $"|nc:{Options.CharOrder}|nw:{Options.WordOrder}|space:{(Options.Whitespace ? "yes" : "no")}"
        + $"|version:{MetricsVersion.Value}";

    private long[] SegmentStatistics(string hypothesis, IReadOnlyList<string> references)
    {
        var hypNgrams = Extract(Preprocess(hypothesis));
        long[] best = [];
        double bestF = -1.0;
        foreach (string reference in references)
        {
            var refNgrams = Extract(Preprocess(reference));
            var stats = new long[3 * Order];
            for (int k = 0; k < Order; k++)
            {
                var (h, r, m) = MatchStatistics(hypNgrams[k], refNgrams[k]);
                stats[3 * k] = h;
                stats[3 * k + 1] = r;
                stats[3 * k + 2] = m;
            }
            double f = FScore(stats);
            if (f > bestF)
            {
                bestF = f;
                best = stats;
            }
        }
        return best;
    }

    private string Preprocess(string segment) => Options.Lowercase ? PyText.Lower(segment) : segment;

    private List<Dictionary<string, int>> Extract(string segment)
    {
        var all = new List<Dictionary<string, int>>(Order);
        var chars = PyText.CodePoints(Options.Whitespace ? segment : PyText.RemoveSpaces(segment));
        for (int n = 1; n <= Options.CharOrder; n++)
        {
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i + n <= chars.Length; i++)
            {
                string key = string.Concat(chars.AsSpan(i, n));
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
            all.Add(counts);
        }
        if (Options.WordOrder > 0)
        {
            var words = SplitPunctuation(segment);
            for (int n = 1; n <= Options.WordOrder; n++) all.Add(WordNgrams.Count(words, n, n));
        }
        return all;
    }

    private static (long Hyp, long Ref, long Match) MatchStatistics(
        Dictionary<string, int> hyp, Dictionary<string, int> reference)
    {
        long match = 0, hypCount = 0;
        foreach (var (ngram, count) in hyp)
        {
            hypCount += count;
            if (reference.TryGetValue(ngram, out int refCount)) match += Math.Min(count, refCount);
        }
        long refTotal = 0;
        foreach (int c in reference.Values) refTotal += c;
        // No hypothesis n-grams are counted for an order the reference has none of.
        return (reference.Count > 0 ? hypCount : 0, refTotal, match);
    }

    // chrF++'s word split: one punctuation character comes off the end of a word, or else off its start
    // (so "(hi)" gives "(hi" and ")", as in sacreBLEU).
    private static List<string> SplitPunctuation(string segment)
    {
        var tokens = new List<string>();
        foreach (string w in PyText.Split(segment))
        {
            if (PyText.CodePoints(w).Length == 1) tokens.Add(w);
            else if (Punctuation.Contains(w[^1])) { tokens.Add(w[..^1]); tokens.Add(w[^1..]); }
            else if (Punctuation.Contains(w[0])) { tokens.Add(w[..1]); tokens.Add(w[1..]); }
            else tokens.Add(w);
        }
        return tokens;
    }

    private double FScore(IReadOnlyList<long> stats)
    {
        const double eps = 1e-16;
        double score = 0.0, avgPrec = 0.0, avgRec = 0.0;
        int effectiveOrder = 0;
        double factor = Options.Beta * Options.Beta;
        for (int i = 0; i < Order; i++)
        {
            long nHyp = stats[3 * i], nRef = stats[3 * i + 1], nMatch = stats[3 * i + 2];
            double prec = nHyp > 0 ? (double)nMatch / nHyp : eps;
            double rec = nRef > 0 ? (double)nMatch / nRef : eps;
            double denom = factor * prec + rec;
            score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
            if (nHyp > 0 && nRef > 0)
            {
                avgPrec += prec;
                avgRec += rec;
                effectiveOrder++;
            }
        }
        if (Options.EpsSmoothing) return 100 * score / Order;
        if (effectiveOrder == 0)
        {
            avgPrec = avgRec = 0.0;
        }
        else
        {
            avgPrec /= effectiveOrder;
            avgRec /= effectiveOrder;
        }
        if (avgPrec + avgRec == 0) return 0.0;
        double f = (1 + factor) * avgPrec * avgRec;
        f /= factor * avgPrec + avgRec;
        return 100 * f;
    }
}
