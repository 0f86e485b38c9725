namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Accuracy, precision/recall/F1 and Matthews correlation with scikit-learn's semantics: labels default to the
/// sorted union of true and predicted labels, a ratio with a zero denominator counts as 0 (sklearn's
/// <c>zero_division=0</c>), F1 is 2TP/(2TP+FP+FN), and MCC uses the multiclass (Gorodkin) formula.
/// </summary>
public static class Classification
{
    public static double Accuracy<T>(IReadOnlyList<T> truth, IReadOnlyList<T> predicted) where T : notnull
    {
        Check(truth, predicted);
        int correct = 0;
        for (int i = 0; i < truth.Count; i++)
        {
            if (EqualityComparer<T>.Default.Equals(truth[i], predicted[i])) correct++;
        }
        return (double)correct / truth.Count;
    }

    /// <summary>
    /// Per-class and averaged scores over <paramref name="labels"/>; by default every label seen, sorted (so T must be
    /// comparable unless labels are given).
    /// </summary>
    public static ClassificationReport<T> Report<T>(IReadOnlyList<T> truth, IReadOnlyList<T> predicted,
        IReadOnlyList<T>? labels = null) where T : notnull
    {
        Check(truth, predicted);
        labels ??= truth.Concat(predicted).Distinct().Order().ToArray();
        if (labels.Count == 0) throw new PeftException("no labels to score");

        var perClass = new List<ClassScores<T>>(labels.Count);
        long tpSum = 0, predSum = 0, trueSum = 0;
        foreach (var label in labels)
        {
            int tp = 0, pred = 0, actual = 0;
            for (int i = 0; i < truth.Count; i++)
            {
                bool isTrue = EqualityComparer<T>.Default.Equals(truth[i], label);
                bool isPred = EqualityComparer<T>.Default.Equals(predicted[i], label);
                if (isTrue) actual++;
                if (isPred) pred++;
                if (isTrue && isPred) tp++;
            }
            perClass.Add(new ClassScores<T>(label, Divide(tp, pred), Divide(tp, actual), Divide(2.0 * tp, actual + pred), actual));
            tpSum += tp;
            predSum += pred;
            trueSum += actual;
        }

        double totalSupport = perClass.Sum(c => c.Support);
        double Weighted(Func<ClassScores<T>, double> f) =>
            totalSupport == 0 ? 0 : perClass.Sum(c => f(c) * c.Support) / totalSupport;

        return new ClassificationReport<T>(
            perClass,
            Accuracy(truth, predicted),
            perClass.Average(c => c.Precision),
            perClass.Average(c => c.Recall),
            perClass.Average(c => c.F1),
            Weighted(c => c.Precision),
            Weighted(c => c.Recall),
            Weighted(c => c.F1),
            Divide(tpSum, predSum),
            Divide(tpSum, trueSum),
            Divide(2.0 * tpSum, trueSum + predSum),
            MatthewsCorrelation(truth, predicted));
    }

    /// <summary>
    /// Matthews correlation for any number of classes: (c·s − Σ pₖtₖ) / √((s² − Σ pₖ²)(s² − Σ tₖ²)), with c the
    /// correct predictions, s the samples, pₖ and tₖ the predicted and true counts of class k; 0 when undefined.
    /// </summary>
    public static double MatthewsCorrelation<T>(IReadOnlyList<T> truth, IReadOnlyList<T> predicted) where T : notnull
    {
        Check(truth, predicted);
        var trueCounts = new Dictionary<T, long>();
        var predCounts = new Dictionary<T, long>();
        long correct = 0;
        for (int i = 0; i < truth.Count; i++)
        {
            trueCounts[truth[i]] = trueCounts.GetValueOrDefault(truth[i]) + 1;
            predCounts[predicted[i]] = predCounts.GetValueOrDefault(predicted[i]) + 1;
            if (EqualityComparer<T>.Default.Equals(truth[i], predicted[i])) correct++;
        }
        double s = truth.Count;
        double pt = 0, pp = 0, tt = 0;
        foreach (var (label, t) in trueCounts)
        {
            pt += (double)t * predCounts.GetValueOrDefault(label);
            tt += (double)t * t;
        }
        foreach (long p in predCounts.Values) pp += (double)p * p;
        double cov = (s * s - pp) * (s * s - tt);
        return cov == 0 ? 0.0 : (correct * s - pt) / Math.Sqrt(cov);
    }

    private static double Divide(double numerator, double denominator) => denominator == 0 ? 0.0 : numerator / denominator;

    private static void Check<T>(IReadOnlyList<T> truth, IReadOnlyList<T> predicted)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(predicted);
        if (truth.Count != predicted.Count)
            throw new PeftException($"{truth.Count} true labels but {predicted.Count} predictions; they must pair up one to one");
        if (truth.Count == 0) throw new PeftException("there are no labels to score");
    }
}
