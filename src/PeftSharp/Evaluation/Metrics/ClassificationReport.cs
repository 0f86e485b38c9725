namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Everything a classification run is usually judged by, with scikit-learn's definitions so the numbers can be put
/// next to sklearn's: per class, macro (unweighted mean over classes), weighted (mean weighted by support) and
/// micro (from summed counts; equal to accuracy when every class is included), plus Matthews correlation.
/// </summary>
public sealed record ClassificationReport<T>(
    IReadOnlyList<ClassScores<T>> PerClass,
    double Accuracy,
    double MacroPrecision,
    double MacroRecall,
    double MacroF1,
    double WeightedPrecision,
    double WeightedRecall,
    double WeightedF1,
    double MicroPrecision,
    double MicroRecall,
    double MicroF1,
    double MatthewsCorrelation);
