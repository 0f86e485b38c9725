namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// BLEU exactly as sacreBLEU 2.x computes it (same tokenization, clipping against the element-wise maximum of the
/// references, closest reference length with ties to the shorter, smoothing and floored log), so our scores can be
/// compared with published ones.
/// </summary>
public sealed class Bleu
{
    private readonly IBleuTokenizer _tokenizer;

    public Bleu(BleuOptions? options = null)
    {
        Options = options ?? new BleuOptions();
        if (Options.MaxNgramOrder < 1)
            throw new PeftException($"BLEU's maximum n-gram order must be at least 1, not {Options.MaxNgramOrder}");
        _tokenizer = BleuTokenizers.Get(Options.Tokenize);
    }

    public BleuOptions Options { get; }

    /// <summary>Corpus BLEU; <paramref name="references"/>[i] are the references of hypothesis i.</summary>
    public BleuScore CorpusScore(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        MetricInputs.Check(hypotheses, references);
        int order = Options.MaxNgramOrder;
        long sysLen = 0, refLen = 0;
        var correct = new long[order];
        var total = new long[order];
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var seg = SegmentStatistics(hypotheses[i], references[i]);
            sysLen += seg.HypLen;
            refLen += seg.RefLen;
            for (int n = 0; n < order; n++)
            {
                correct[n] += seg.Correct[n];
                total[n] += seg.Total[n];
            }
        }
        return Compute(correct.Select(c => (double)c).ToArray(), total.Select(t => (double)t).ToArray(),
            (int)sysLen, (int)refLen, Options);
    }

    /// <summary>Sentence BLEU of one hypothesis against its references (sacreBLEU's <c>sentence_score</c>).</summary>
    public BleuScore SentenceScore(string hypothesis, IReadOnlyList<string> references) =>
        CorpusScore([hypothesis], [references]);

    /// <summary>sacreBLEU's <c>sentence_bleu</c> defaults: 13a, exp smoothing, effective order.</summary>
    public static BleuScore Sentence(string hypothesis, IReadOnlyList<string> references) =>
        new Bleu(new BleuOptions { EffectiveOrder = true }).SentenceScore(hypothesis, references);

    /// <summary>The signature for the given references, e.g. <c>nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:...</c>.</summary>
    public string Signature(IReadOnlyList<IReadOnlyList<string>> references) => Signature(MetricInputs.NRefs(references));

    public string Signature(string nrefs)
    {
        string smooth = BleuSmoothings.Name(Options.Smoothing);
        double? def = BleuSmoothings.DefaultValue(Options.Smoothing);
        if (def is not null) smooth += $"[{PyFormat.Fixed(Options.SmoothValue ?? def.Value, 2)}]";
        return $"nrefs:{nrefs}|case:{(Options.Lowercase ? "lc" : "mixed")}|eff:{(Options.EffectiveOrder ? "yes" : "no")}"
            + $"|tok:{_tokenizer.Signature}|smooth:{smooth}|version:{MetricsVersion.Value}";
    }

    /// <summary>The tokens BLEU counts for a segment: optional lower-casing, trailing whitespace removed, tokenized.</summary>
    public IReadOnlyList<string> Preprocess(string segment)
    {
        if (Options.Lowercase) segment = PyText.Lower(segment);
        return PyText.Split(_tokenizer.Tokenize(PyText.RStrip(segment)));
    }

    private SegmentStats SegmentStatistics(string hypothesis, IReadOnlyList<string> references)
    {
        int order = Options.MaxNgramOrder;
        Dictionary<string, int>? refNgrams = null;
        var refLens = new List<int>(references.Count);
        foreach (string reference in references)
        {
            var tokens = Preprocess(reference);
            refLens.Add(tokens.Count);
            var counts = WordNgrams.Count(tokens, 1, order);
            if (refNgrams is null)
            {
                refNgrams = counts;
                continue;
            }
            foreach (var (ngram, count) in counts)
                refNgrams[ngram] = Math.Max(refNgrams.GetValueOrDefault(ngram), count);
        }

        var hypTokens = Preprocess(hypothesis);
        var correct = new int[order];
        var total = new int[order];
        foreach (var (ngram, count) in WordNgrams.Count(hypTokens, 1, order))
        {
            int n = WordNgrams.Order(ngram) - 1;
            total[n] += count;
            if (refNgrams!.TryGetValue(ngram, out int refCount)) correct[n] += Math.Min(count, refCount);
        }
        return new SegmentStats(hypTokens.Count, ClosestRefLen(hypTokens.Count, refLens), correct, total);
    }

    private static int ClosestRefLen(int hypLen, List<int> refLens)
    {
        int closestDiff = -1, closestLen = -1;
        foreach (int len in refLens)
        {
            int diff = Math.Abs(hypLen - len);
            if (closestDiff == -1 || diff < closestDiff)
            {
                closestDiff = diff;
                closestLen = len;
            }
            else if (diff == closestDiff && len < closestLen)
            {
                closestLen = len;
            }
        }
        return closestLen;
    }

    /// <summary>BLEU from its sufficient statistics (sacreBLEU's <c>compute_bleu</c>), smoothing included.</summary>
    public static BleuScore Compute(double[] correct, double[] total, int sysLen, int refLen, BleuOptions options)
    {
        int order = options.MaxNgramOrder;
        correct = (double[])correct.Clone();
        total = (double[])total.Clone();
        double smoothValue = options.SmoothValue ?? BleuSmoothings.DefaultValue(options.Smoothing) ?? 0;

        double bp = 1.0;
        if (sysLen < refLen) bp = sysLen > 0 ? Math.Exp(1 - (double)refLen / sysLen) : 0.0;

        var precisions = new double[order];
        if (correct.All(c => c == 0))
            return new BleuScore(0.0, correct, total, precisions, bp, sysLen, refLen);

        double smoothMteval = 1.0;
        int effOrder = order;
        for (int n = 1; n <= order; n++)
        {
            if (options.Smoothing == BleuSmoothing.AddK && n > 1)
            {
                correct[n - 1] += smoothValue;
                total[n - 1] += smoothValue;
            }
            if (total[n - 1] == 0) break;
            if (options.EffectiveOrder) effOrder = n;

            if (correct[n - 1] == 0)
            {
                if (options.Smoothing == BleuSmoothing.Exp)
                {
                    smoothMteval *= 2;
                    precisions[n - 1] = 100.0 / (smoothMteval * total[n - 1]);
                }
                else if (options.Smoothing == BleuSmoothing.Floor)
                {
                    precisions[n - 1] = 100.0 * smoothValue / total[n - 1];
                }
            }
            else
            {
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
            }
        }

        double logSum = 0;
        for (int n = 0; n < effOrder; n++) logSum += FlooredLog(precisions[n]);
        double score = bp * Math.Exp(logSum / effOrder);
        return new BleuScore(score, correct, total, precisions, bp, sysLen, refLen);
    }

    // sacreBLEU's my_log: log(0) is a very negative number instead of -inf.
    private static double FlooredLog(double x) => x == 0.0 ? -9999999999 : Math.Log(x);

    private sealed record SegmentStats(int HypLen, int RefLen, int[] Correct, int[] Total);
}
