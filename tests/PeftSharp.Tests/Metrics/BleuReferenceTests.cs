using System.Text.Json;
using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>Every BLEU value sacreBLEU produced for TestData/metrics/bleu.json, one theory row per case and variant.</summary>
public class BleuReferenceTests
{
    public static TheoryData<string, int> CorpusRows()
    {
        var rows = new TheoryData<string, int>();
        foreach (var c in MetricCases.Cases("bleu.json"))
            for (int v = 0; v < c.GetProperty("corpus_bleu").GetArrayLength(); v++) rows.Add(c.GetProperty("id").GetString()!, v);
        return rows;
    }

    public static TheoryData<string, int> SentenceRows()
    {
        var rows = new TheoryData<string, int>();
        foreach (var c in MetricCases.Cases("bleu.json"))
            for (int v = 0; v < c.GetProperty("sentence_bleu").GetArrayLength(); v++) rows.Add(c.GetProperty("id").GetString()!, v);
        return rows;
    }

    private static BleuOptions Options(JsonElement o)
    {
        var value = o.GetProperty("smooth_value");
        return new BleuOptions
        {
            Tokenize = o.GetProperty("tokenize").GetString()!,
            Smoothing = BleuSmoothings.Parse(o.GetProperty("smooth_method").GetString()!),
            SmoothValue = value.ValueKind == JsonValueKind.Null ? null : value.GetDouble(),
            Lowercase = o.GetProperty("lowercase").GetBoolean(),
            EffectiveOrder = o.GetProperty("use_effective_order").GetBoolean(),
            MaxNgramOrder = o.TryGetProperty("max_ngram_order", out var m) ? m.GetInt32() : 4,
        };
    }

    internal static void AssertMatches(JsonElement expected, BleuScore actual, string where)
    {
        MetricCases.Close(expected.GetProperty("score").GetDouble(), actual.Score, where + " score");
        Assert.Equal(PyFormat.Fixed(expected.GetProperty("score").GetDouble(), 2), PyFormat.Fixed(actual.Score, 2));
        Assert.Equal(MetricCases.Doubles(expected.GetProperty("counts")), actual.Counts);
        Assert.Equal(MetricCases.Doubles(expected.GetProperty("totals")), actual.Totals);
        var precisions = MetricCases.Doubles(expected.GetProperty("precisions"));
        for (int n = 0; n < precisions.Length; n++) MetricCases.Close(precisions[n], actual.Precisions[n], $"{where} p{n + 1}");
        MetricCases.Close(expected.GetProperty("bp").GetDouble(), actual.BrevityPenalty, where + " bp");
        Assert.Equal(expected.GetProperty("sys_len").GetInt32(), actual.SysLen);
        Assert.Equal(expected.GetProperty("ref_len").GetInt32(), actual.RefLen);
    }

    [Theory]
    [MemberData(nameof(CorpusRows))]
    public void CorpusBleuMatchesSacreBleu(string id, int variant)
    {
        var c = MetricCases.Case("bleu.json", id);
        var result = c.GetProperty("corpus_bleu")[variant];
        var bleu = new Bleu(Options(result.GetProperty("options")));
        var refs = MetricCases.References(c);
        var score = bleu.CorpusScore(MetricCases.Hypotheses(c), refs);
        AssertMatches(result.GetProperty("expected"), score, $"{id}/{variant}");
        Assert.Equal(MetricCases.WithoutVersion(result.GetProperty("signature").GetString()!),
            MetricCases.WithoutVersion(bleu.Signature(refs)));
    }

    [Theory]
    [MemberData(nameof(SentenceRows))]
    public void SentenceBleuMatchesSacreBleu(string id, int variant)
    {
        var c = MetricCases.Case("bleu.json", id);
        var result = c.GetProperty("sentence_bleu")[variant];
        var bleu = new Bleu(Options(result.GetProperty("options")));
        var hyps = MetricCases.Hypotheses(c);
        var refs = MetricCases.References(c);
        var expected = result.GetProperty("expected");
        for (int i = 0; i < hyps.Length; i++)
            AssertMatches(expected[i], bleu.SentenceScore(hyps[i], refs[i]), $"{id}/{variant}/{i}");
    }
}
