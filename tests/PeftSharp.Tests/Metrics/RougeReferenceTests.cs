using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>Every ROUGE value rouge_score produced for TestData/metrics/rouge.json, with and without stemming.</summary>
public class RougeReferenceTests
{
    public static TheoryData<string, int> Rows()
    {
        var rows = new TheoryData<string, int>();
        foreach (var c in MetricCases.Cases("rouge.json"))
            for (int v = 0; v < c.GetProperty("rouge").GetArrayLength(); v++) rows.Add(c.GetProperty("id").GetString()!, v);
        return rows;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void RougeMatchesRougeScore(string id, int variant)
    {
        var c = MetricCases.Case("rouge.json", id);
        var result = c.GetProperty("rouge")[variant];
        var options = result.GetProperty("options");
        var types = options.GetProperty("rouge_types").EnumerateArray().Select(t => t.GetString()!).ToArray();
        var rouge = new Rouge(types, options.GetProperty("use_stemmer").GetBoolean());
        var score = rouge.CorpusScore(MetricCases.Hypotheses(c), MetricCases.References(c));
        var expected = result.GetProperty("expected");
        var perPair = expected.GetProperty("per_pair");
        Assert.Equal(perPair.GetArrayLength(), score.PerPair.Count);
        for (int i = 0; i < score.PerPair.Count; i++)
        {
            foreach (string type in types)
            {
                var e = perPair[i].GetProperty(type);
                var a = score.PerPair[i][type];
                MetricCases.Close(e.GetProperty("precision").GetDouble(), a.Precision, $"{id}/{variant}/{i} {type} P");
                MetricCases.Close(e.GetProperty("recall").GetDouble(), a.Recall, $"{id}/{variant}/{i} {type} R");
                MetricCases.Close(e.GetProperty("fmeasure").GetDouble(), a.FMeasure, $"{id}/{variant}/{i} {type} F");
            }
        }
        foreach (string type in types)
            MetricCases.Close(expected.GetProperty("mean_fmeasure").GetProperty(type).GetDouble(), score.Mean[type].FMeasure, $"{id}/{variant} mean {type}");
    }
}
