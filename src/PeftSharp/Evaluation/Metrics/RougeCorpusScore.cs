namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// ROUGE over a corpus: every pair's scores, and the plain arithmetic mean of each of precision, recall and
/// F-measure per ROUGE type (rouge_score's BootstrapAggregator would give a resampled estimate instead).
/// </summary>
public sealed record RougeCorpusScore(
    IReadOnlyList<string> Types,
    IReadOnlyList<IReadOnlyDictionary<string, RougeScore>> PerPair,
    IReadOnlyDictionary<string, RougeScore> Mean);
