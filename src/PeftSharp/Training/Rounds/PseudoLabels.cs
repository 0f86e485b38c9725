using System.Text.Json.Nodes;
using PeftSharp.Data;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// Self-training (Yarowsky 1995; Lee 2013, "pseudo-label"): a classifier's confident predictions on unlabelled records
/// become their labels for the next round. Only predictions whose probability reaches the threshold are kept, because a
/// wrong pseudo-label is learned as surely as a right one; the confidence histogram of the whole pool shows how much
/// a threshold keeps.
/// </summary>
public sealed record PseudoLabels(IReadOnlyList<(DataRecord Record, int Label, double Confidence)> Kept, int Pool, int[] Histogram, int[] PerClass)
{
    /// <summary>Bins of the histogram: confidence in [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0].</summary>
    public const int Bins = 10;

    public static PseudoLabels From(PoolPredictions predictions, IReadOnlyList<DataRecord> records, double minConfidence, int classes)
    {
        if (minConfidence is < 0 or > 1 || double.IsNaN(minConfidence)) throw new PeftException($"--min-confidence must be between 0 and 1, not {minConfidence}");
        var byOrigin = records.GroupBy(r => r.Location).ToDictionary(g => g.Key, g => g.First());
        var kept = new List<(DataRecord, int, double)>();
        var histogram = new int[Bins];
        var perClass = new int[classes];
        for (int i = 0; i < predictions.Probabilities.Count; i++)
        {
            var p = predictions.Probabilities[i];
            int label = Array.IndexOf(p, p.Max());
            double confidence = p[label];
            histogram[Math.Min(Bins - 1, (int)(confidence * Bins))]++;
            if (confidence < minConfidence) continue;
            kept.Add((byOrigin[predictions.Origins[i]], label, confidence));
            perClass[label]++;
        }
        return new PseudoLabels(kept, predictions.Probabilities.Count, histogram, perClass);
    }

    /// <summary>
    /// The kept records as JSON lines: their own fields, the label field set to the predicted label (an integer when the
    /// label's name is one, as the training data had it) and pseudo_label_confidence.
    /// </summary>
    public string ToJsonLines(IReadOnlyList<string> labelNames, string labelField = "label")
    {
        var text = new System.Text.StringBuilder();
        foreach (var (record, label, confidence) in Kept)
        {
            var o = new JsonObject();
            foreach (var (k, v) in record.Fields) o[k] = v?.DeepClone();
            string name = labelNames[label];
            o[labelField] = long.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) ? JsonValue.Create(number) : JsonValue.Create(name);
            o["pseudo_label_confidence"] = confidence;
            text.Append(o.ToJsonString()).Append('\n');
        }
        return text.ToString();
    }
}
