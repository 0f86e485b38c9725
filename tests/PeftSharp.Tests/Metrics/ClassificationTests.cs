using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>Classification metrics against values worked out by hand with scikit-learn's definitions.</summary>
public class ClassificationTests
{
    // Class 0: TP 2, predicted 3, true 2 -> P 2/3, R 1, F1 4/5. Classes 1 and 2: no true positives -> 0.
    private static readonly int[] Truth = [0, 1, 2, 0, 1, 2];
    private static readonly int[] Predicted = [0, 2, 1, 0, 0, 1];

    [Fact]
    public void PerClassScoresAndSupport()
    {
        var report = Classification.Report(Truth, Predicted);
        Assert.Equal([0, 1, 2], report.PerClass.Select(c => c.Label));
        Assert.Equal(2.0 / 3, report.PerClass[0].Precision, 12);
        Assert.Equal(1.0, report.PerClass[0].Recall, 12);
        Assert.Equal(0.8, report.PerClass[0].F1, 12);
        Assert.All(report.PerClass, c => Assert.Equal(2, c.Support));
        Assert.All(report.PerClass.Skip(1), c => Assert.Equal((0.0, 0.0, 0.0), (c.Precision, c.Recall, c.F1)));
    }

    [Fact]
    public void MacroAveragesPerClassScoresAndMicroEqualsAccuracy()
    {
        var report = Classification.Report(Truth, Predicted);
        Assert.Equal(2.0 / 9, report.MacroPrecision, 12);
        Assert.Equal(1.0 / 3, report.MacroRecall, 12);
        Assert.Equal(0.8 / 3, report.MacroF1, 12); // mean of per-class F1, not F1 of the mean P and R
        Assert.Equal(1.0 / 3, report.Accuracy, 12);
        Assert.Equal(1.0 / 3, report.MicroPrecision, 12);
        Assert.Equal(1.0 / 3, report.MicroRecall, 12);
        Assert.Equal(1.0 / 3, report.MicroF1, 12);
        Assert.Equal(report.MacroF1, report.WeightedF1, 12); // equal supports
    }

    [Fact]
    public void WeightedAverageUsesSupport()
    {
        // truth a,a,a,b; predicted a,a,b,b: a: P 1, R 2/3, F1 0.8 (support 3); b: P 1/2, R 1, F1 2/3 (support 1).
        var report = Classification.Report(["a", "a", "a", "b"], ["a", "a", "b", "b"]);
        Assert.Equal((0.8 * 3 + 2.0 / 3) / 4, report.WeightedF1, 12);
        Assert.Equal((1.0 * 3 + 0.5) / 4, report.WeightedPrecision, 12);
    }

    [Fact]
    public void LabelSubsetChangesMicroAverage()
    {
        // Only class 0: TP 2, predicted 3, true 2.
        var report = Classification.Report(Truth, Predicted, labels: [0]);
        Assert.Equal(2.0 / 3, report.MicroPrecision, 12);
        Assert.Equal(1.0, report.MicroRecall, 12);
    }

    [Fact]
    public void BinaryMatthewsCorrelation() =>
        Assert.Equal(-1.0 / 3, Classification.MatthewsCorrelation([1, 1, 1, 0], [1, 0, 1, 1]), 12);

    [Fact]
    public void MulticlassMatthewsCorrelationUsesTheGeneralFormula()
    {
        // c = 5, s = 6, t = (2,2,2), p = (2,1,3): (5*6 - 12) / sqrt((36 - 14) * (36 - 12)).
        double expected = 18 / Math.Sqrt(22 * 24);
        Assert.Equal(expected, Classification.MatthewsCorrelation([0, 0, 1, 1, 2, 2], [0, 0, 1, 2, 2, 2]), 12);
    }

    [Fact]
    public void MatthewsCorrelationIsZeroWhenUndefined() =>
        Assert.Equal(0.0, Classification.MatthewsCorrelation([1, 1, 1], [1, 1, 1]));

    [Fact]
    public void PerfectPredictionsScoreOne()
    {
        var report = Classification.Report(["x", "y", "z"], ["x", "y", "z"]);
        Assert.Equal((1.0, 1.0, 1.0, 1.0), (report.Accuracy, report.MacroF1, report.MicroF1, report.MatthewsCorrelation));
    }

    [Fact]
    public void MismatchedOrEmptyInputIsAUserError()
    {
        Assert.Throws<PeftException>(() => Classification.Accuracy([1, 2], [1]));
        Assert.Throws<PeftException>(() => Classification.Report(Array.Empty<int>(), Array.Empty<int>()));
        Assert.Throws<PeftException>(() => Classification.MatthewsCorrelation([1], [1, 2]));
    }
}
