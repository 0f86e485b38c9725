using System.Text.RegularExpressions;

namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// ROUGE exactly as Google's rouge_score computes it: rougeN (N = 1..9) from clipped n-gram overlap, rougeL from
/// the LCS of the whole texts, and rougeLsum from ROUGE-1.5.5's summary-level union LCS over sentences split on
/// newlines. Arguments go hypothesis first, as everywhere in PeftSharp (rouge_score's own order is reference first).
/// </summary>
public sealed partial class Rouge
{
    private readonly RougeTokenizer _tokenizer;

    public static IReadOnlyList<string> DefaultTypes { get; } = ["rouge1", "rouge2", "rougeL", "rougeLsum"];

    public Rouge(IReadOnlyList<string>? types = null, bool useStemmer = false)
    {
        Types = types ?? DefaultTypes;
        if (Types.Count == 0) throw new PeftException("no ROUGE type requested");
        foreach (string type in Types)
        {
            if (type is not ("rougeL" or "rougeLsum") && !RougeN().IsMatch(type))
                throw new PeftException($"invalid ROUGE type '{type}'; use rouge1..rouge9, rougeL or rougeLsum");
        }
        UseStemmer = useStemmer;
        _tokenizer = new RougeTokenizer(useStemmer);
    }

    public IReadOnlyList<string> Types { get; }
    public bool UseStemmer { get; }

    [GeneratedRegex("^rouge[1-9]$")]
    private static partial Regex RougeN();

    /// <summary>Scores one hypothesis against one reference.</summary>
    public IReadOnlyDictionary<string, RougeScore> Score(string hypothesis, string reference)
    {
        ArgumentNullException.ThrowIfNull(hypothesis);
        ArgumentNullException.ThrowIfNull(reference);
        var refTokens = _tokenizer.Tokenize(reference);
        var hypTokens = _tokenizer.Tokenize(hypothesis);
        var result = new Dictionary<string, RougeScore>(StringComparer.Ordinal);
        foreach (string type in Types)
        {
            result[type] = type switch
            {
                "rougeL" => ScoreLcs(refTokens, hypTokens),
                "rougeLsum" => SummaryLevelLcs(Sentences(reference), Sentences(hypothesis)),
                _ => ScoreNgrams(refTokens, hypTokens, type[5] - '0'),
            };
        }
        return result;
    }

    /// <summary>rouge_score's <c>score_multi</c>: per type, the reference with the highest F-measure (first on ties).</summary>
    public IReadOnlyDictionary<string, RougeScore> Score(string hypothesis, IReadOnlyList<string> references)
    {
        ArgumentNullException.ThrowIfNull(references);
        if (references.Count == 0) throw new PeftException("a hypothesis needs at least one reference");
        if (references.Count == 1) return Score(hypothesis, references[0]);
        var all = references.Select(r => Score(hypothesis, r)).ToList();
        var best = new Dictionary<string, RougeScore>(StringComparer.Ordinal);
        foreach (string type in Types)
        {
            var top = all[0][type];
            for (int k = 1; k < all.Count; k++)
            {
                if (all[k][type].FMeasure > top.FMeasure) top = all[k][type];
            }
            best[type] = top;
        }
        return best;
    }

    /// <summary>Scores every pair and averages; <paramref name="references"/>[i] are the references of hypothesis i.</summary>
    public RougeCorpusScore CorpusScore(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        MetricInputs.Check(hypotheses, references);
        var perPair = new List<IReadOnlyDictionary<string, RougeScore>>(hypotheses.Count);
        for (int i = 0; i < hypotheses.Count; i++) perPair.Add(Score(hypotheses[i], references[i]));
        var mean = new Dictionary<string, RougeScore>(StringComparer.Ordinal);
        foreach (string type in Types)
        {
            double p = 0, r = 0, f = 0;
            foreach (var pair in perPair)
            {
                p += pair[type].Precision;
                r += pair[type].Recall;
                f += pair[type].FMeasure;
            }
            mean[type] = new RougeScore(p / perPair.Count, r / perPair.Count, f / perPair.Count);
        }
        return new RougeCorpusScore(Types, perPair, mean);
    }

    private List<List<string>> Sentences(string text) =>
        text.Split('\n').Where(s => s.Length > 0).Select(_tokenizer.Tokenize).ToList();

    private static Dictionary<string, int> Ngrams(List<string> tokens, int n) => WordNgrams.Count(tokens, n, n);

    private static RougeScore ScoreNgrams(List<string> refTokens, List<string> hypTokens, int n)
    {
        var refNgrams = Ngrams(refTokens, n);
        var hypNgrams = Ngrams(hypTokens, n);
        long overlap = 0;
        foreach (var (ngram, count) in refNgrams) overlap += Math.Min(count, hypNgrams.GetValueOrDefault(ngram));
        long refCount = refNgrams.Values.Sum(), hypCount = hypNgrams.Values.Sum();
        return RougeScore.FromPrecisionRecall((double)overlap / Math.Max(hypCount, 1), (double)overlap / Math.Max(refCount, 1));
    }

    private static RougeScore ScoreLcs(List<string> refTokens, List<string> hypTokens)
    {
        if (refTokens.Count == 0 || hypTokens.Count == 0) return RougeScore.Zero;
        int lcs = Lcs.Length(refTokens, hypTokens);
        return RougeScore.FromPrecisionRecall((double)lcs / hypTokens.Count, (double)lcs / refTokens.Count);
    }

    // ROUGE-1.5.5's summary-level LCS: for each reference sentence, the union of its LCS with every candidate
    // sentence; a token counts as a hit only while both sides still have an unused occurrence of it.
    private static RougeScore SummaryLevelLcs(List<List<string>> refSents, List<List<string>> hypSents)
    {
        if (refSents.Count == 0 || hypSents.Count == 0) return RougeScore.Zero;
        int m = refSents.Sum(s => s.Count), n = hypSents.Sum(s => s.Count);
        if (m == 0 || n == 0) return RougeScore.Zero;

        var refCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var hypCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in refSents) foreach (string t in s) refCounts[t] = refCounts.GetValueOrDefault(t) + 1;
        foreach (var s in hypSents) foreach (string t in s) hypCounts[t] = hypCounts.GetValueOrDefault(t) + 1;

        int hits = 0;
        foreach (var r in refSents)
        {
            var union = new SortedSet<int>();
            foreach (var c in hypSents) union.UnionWith(Lcs.ReferenceIndices(r, c));
            foreach (int index in union)
            {
                string token = r[index];
                if (hypCounts.GetValueOrDefault(token) > 0 && refCounts.GetValueOrDefault(token) > 0)
                {
                    hits++;
                    hypCounts[token]--;
                    refCounts[token]--;
                }
            }
        }
        return RougeScore.FromPrecisionRecall((double)hits / n, (double)hits / m);
    }
}
