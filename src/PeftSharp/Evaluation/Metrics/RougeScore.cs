namespace PeftSharp.Evaluation.Metrics;

/// <summary>One ROUGE value as rouge_score reports it: precision, recall and their harmonic mean, each in [0, 1].</summary>
public readonly record struct RougeScore(double Precision, double Recall, double FMeasure)
{
    public static RougeScore Zero => default;

    /// <summary>rouge_score's F-measure: 2PR/(P+R), and 0 when both are 0.</summary>
    public static RougeScore FromPrecisionRecall(double precision, double recall) =>
        new(precision, recall, precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0);
}
