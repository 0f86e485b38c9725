using System.Text.Json;
using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>
/// The randomized, Unicode-heavy cases of TestData/metrics-generated, scored by sacreBLEU 2.6.0 and rouge_score's
/// code; here the printed lines are compared too, character for character.
/// </summary>
public class GeneratedReferenceTests
{
    private static JsonElement Root()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "TestData", "metrics-generated", "random.json");
        return Cached ??= JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();
    }

    private static JsonElement? Cached;

    public static TheoryData<int> BleuRows() => Indices("bleu_chrf");
    public static TheoryData<int> RougeRows() => Indices("rouge");

    private static TheoryData<int> Indices(string key)
    {
        var rows = new TheoryData<int>();
        for (int i = 0; i < Root().GetProperty(key).GetArrayLength(); i++) rows.Add(i);
        return rows;
    }

    private static (string[] Hyps, IReadOnlyList<string>[] Refs) Texts(JsonElement c) => (
        c.GetProperty("hypotheses").EnumerateArray().Select(x => x.GetString()!).ToArray(),
        c.GetProperty("references").EnumerateArray()
            .Select(r => (IReadOnlyList<string>)r.EnumerateArray().Select(x => x.GetString()!).ToArray()).ToArray());

    private static void AssertBleu(JsonElement e, BleuScore a, string where)
    {
        BleuReferenceTests.AssertMatches(e, a, where);
        if (e.TryGetProperty("line", out var line)) Assert.Equal(line.GetString(), a.Format("SIG"));
    }

    [Theory]
    [MemberData(nameof(BleuRows))]
    public void BleuMatchesSacreBleu(int index)
    {
        var c = Root().GetProperty("bleu_chrf")[index];
        var (hyps, refs) = Texts(c);
        foreach (var variant in c.GetProperty("bleu").EnumerateArray())
        {
            var o = variant.GetProperty("options");
            var value = o.GetProperty("smooth_value");
            var options = new BleuOptions
            {
                Tokenize = o.GetProperty("tokenize").GetString()!,
                Lowercase = o.GetProperty("lowercase").GetBoolean(),
                Smoothing = BleuSmoothings.Parse(o.GetProperty("smooth_method").GetString()!),
                SmoothValue = value.ValueKind == JsonValueKind.Null ? null : value.GetDouble(),
            };
            string where = $"case {index} {o}";
            var bleu = new Bleu(options);
            AssertBleu(variant.GetProperty("corpus"), bleu.CorpusScore(hyps, refs), where);
            Assert.Equal(MetricCases.WithoutVersion(variant.GetProperty("signature").GetString()!), MetricCases.WithoutVersion(bleu.Signature(refs)));
            var sentence = new Bleu(options with { EffectiveOrder = true });
            int i = 0;
            foreach (var e in variant.GetProperty("sentence").EnumerateArray())
            {
                AssertBleu(e, sentence.SentenceScore(hyps[i], refs[i]), $"{where} sentence {i}");
                i++;
            }
        }
    }

    [Theory]
    [MemberData(nameof(BleuRows))]
    public void ChrFMatchesSacreBleu(int index)
    {
        var c = Root().GetProperty("bleu_chrf")[index];
        var (hyps, refs) = Texts(c);
        foreach (var variant in c.GetProperty("chrf").EnumerateArray())
        {
            var o = variant.GetProperty("options");
            var chrf = new ChrF(new ChrFOptions { WordOrder = o.GetProperty("word_order").GetInt32(), Lowercase = o.GetProperty("lowercase").GetBoolean() });
            var corpus = chrf.CorpusScore(hyps, refs);
            var expected = variant.GetProperty("corpus");
            MetricCases.Close(expected.GetProperty("score").GetDouble(), corpus.Score, $"case {index} {o}");
            Assert.Equal(expected.GetProperty("line").GetString(), corpus.Format("SIG"));
            Assert.Equal(MetricCases.WithoutVersion(variant.GetProperty("signature").GetString()!), MetricCases.WithoutVersion(chrf.Signature(refs)));
            int i = 0;
            foreach (var e in variant.GetProperty("sentence").EnumerateArray())
            {
                MetricCases.Close(e.GetDouble(), chrf.SentenceScore(hyps[i], refs[i]).Score, $"case {index} {o} sentence {i}");
                i++;
            }
        }
    }

    [Theory]
    [MemberData(nameof(RougeRows))]
    public void RougeMatchesRougeScore(int index)
    {
        var c = Root().GetProperty("rouge")[index];
        var (hyps, refs) = Texts(c);
        foreach (var variant in c.GetProperty("rouge").EnumerateArray())
        {
            var types = variant.GetProperty("types").EnumerateArray().Select(t => t.GetString()!).ToArray();
            var score = new Rouge(types, variant.GetProperty("use_stemmer").GetBoolean()).CorpusScore(hyps, refs);
            for (int i = 0; i < hyps.Length; i++)
            {
                foreach (string type in types)
                {
                    var e = variant.GetProperty("per_pair")[i].GetProperty(type);
                    var a = score.PerPair[i][type];
                    Assert.Equal([e[0].GetDouble(), e[1].GetDouble(), e[2].GetDouble()], new[] { a.Precision, a.Recall, a.FMeasure });
                }
            }
        }
    }
}
