using System.Text.Json;
using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>Every chrF and chrF++ value sacreBLEU produced for TestData/metrics/chrf.json.</summary>
public class ChrFReferenceTests
{
    public static TheoryData<string, string, int> Rows()
    {
        var rows = new TheoryData<string, string, int>();
        foreach (var c in MetricCases.Cases("chrf.json"))
        {
            foreach (string kind in new[] { "corpus_chrf", "sentence_chrf" })
                for (int v = 0; v < c.GetProperty(kind).GetArrayLength(); v++) rows.Add(c.GetProperty("id").GetString()!, kind, v);
        }
        return rows;
    }

    private static ChrFOptions Options(JsonElement o) => new()
    {
        CharOrder = o.GetProperty("char_order").GetInt32(),
        WordOrder = o.GetProperty("word_order").GetInt32(),
        Beta = o.GetProperty("beta").GetInt32(),
        Lowercase = o.GetProperty("lowercase").GetBoolean(),
        Whitespace = o.GetProperty("whitespace").GetBoolean(),
        EpsSmoothing = o.GetProperty("eps_smoothing").GetBoolean(),
    };

    private static void AssertMatches(JsonElement expected, ChrFScore actual, string where)
    {
        MetricCases.Close(expected.GetProperty("score").GetDouble(), actual.Score, where + " score");
        Assert.Equal(PyFormat.Fixed(expected.GetProperty("score").GetDouble(), 2), PyFormat.Fixed(actual.Score, 2));
        Assert.Equal(expected.GetProperty("stats").EnumerateArray().Select(x => x.GetInt64()), actual.Statistics);
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void ChrFMatchesSacreBleu(string id, string kind, int variant)
    {
        var c = MetricCases.Case("chrf.json", id);
        var result = c.GetProperty(kind)[variant];
        var chrf = new ChrF(Options(result.GetProperty("options")));
        var hyps = MetricCases.Hypotheses(c);
        var refs = MetricCases.References(c);
        var expected = result.GetProperty("expected");
        if (kind == "corpus_chrf")
        {
            AssertMatches(expected, chrf.CorpusScore(hyps, refs), $"{id}/{variant}");
            Assert.Equal(MetricCases.WithoutVersion(result.GetProperty("signature").GetString()!),
                MetricCases.WithoutVersion(chrf.Signature(refs)));
            Assert.Equal(result.GetProperty("name").GetString() == "chrF++" ? "chrF2++" : "chrF2", chrf.CorpusScore(hyps, refs).Name);
        }
        else
        {
            for (int i = 0; i < hyps.Length; i++) AssertMatches(expected[i], chrf.SentenceScore(hyps[i], refs[i]), $"{id}/{variant}/{i}");
        }
    }
}
