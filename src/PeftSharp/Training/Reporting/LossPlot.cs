using PeftSharp.IO;
using ScottPlot;

namespace PeftSharp.Training.Reporting;

/// <summary>
/// loss.png: training loss per step (raw, thin, and an exponential moving average, because per-batch loss is too noisy
/// to read a trend from), evaluations as markers (validation loss, and the main validation metric on a second y axis),
/// and the scores to beat as horizontal lines (before training, the frozen baseline), against optimizer steps.
/// Perplexity is never the second axis: it is exp(loss), a mirror of the validation loss, not another view.
/// The forgetting curve (general-text loss, or embedding agreement with the original) is drawn when it was measured.
/// The one picture that tells whether a run learned, overfitted or diverged. Rendered with ScottPlot on SkiaSharp,
/// headless, and written atomically so the report never links to half a PNG.
/// </summary>
public static class LossPlot
{
    public const string FileName = "loss.png";
    public const int DefaultWidth = 900;
    public const int DefaultHeight = 500;
    /// <summary>Weight of the past in the smoothed training loss (TensorBoard's default slider position is 0.6; logged steps are sparser here, 0.9 still reads well).</summary>
    public const double Smoothing = 0.9;

    private static readonly Color TrainColor = Color.FromHex("#1f77b4");
    private static readonly Color ValidationColor = Color.FromHex("#d62728");
    private static readonly Color MetricColor = Color.FromHex("#2ca02c");
    private static readonly Color ForgettingColor = Color.FromHex("#ff7f0e");
    private static readonly Color[] ReferenceColors = [Color.FromHex("#7f7f7f"), Color.FromHex("#9467bd"), Color.FromHex("#8c564b")];

    /// <summary>A sans-serif family the system has: ScottPlot's own choice falls on a serif font on Debian.</summary>
    internal static readonly Lazy<string?> SansFont = new(() =>
    {
        var families = SkiaSharp.SKFontManager.Default.GetFontFamilies();
        return new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(families.Contains);
    });

    /// <summary>
    /// Draws the plot and writes it to <paramref name="pngPath"/>. <paramref name="mainMetric"/> is the validation
    /// metric for the right axis (accuracy, f1, ...); null picks the first one other than loss that the evaluations
    /// have; "loss", or a metric no evaluation has, draws none. Non-finite values (a diverged step) are left out.
    /// </summary>
    /// <param name="references">Scores to draw as horizontal lines (e.g. "before training", the frozen baseline), each
    /// by its value of the metric the plot shows on its right axis, else of the loss.</param>
    public static void Save(string pngPath, IReadOnlyList<StepRecord> steps, IReadOnlyList<EvalRecord> evaluations, string? mainMetric,
        int width = DefaultWidth, int height = DefaultHeight, IReadOnlyList<(string Name, IReadOnlyDictionary<string, double> Metrics)>? references = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 100);
        var bytes = Render(steps, evaluations, mainMetric, width, height, references);
        var folder = Path.GetDirectoryName(Path.GetFullPath(pngPath))!;
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllBytes(pngPath, bytes);
    }

    /// <summary>The PNG bytes of the plot.</summary>
    public static byte[] Render(IReadOnlyList<StepRecord> steps, IReadOnlyList<EvalRecord> evaluations, string? mainMetric, int width, int height,
        IReadOnlyList<(string Name, IReadOnlyDictionary<string, double> Metrics)>? references = null)
    {
        using var plot = Build(steps, evaluations, mainMetric, references);
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }

    /// <summary>The plot itself, before it is drawn (what the tests look at).</summary>
    public static Plot Build(IReadOnlyList<StepRecord> steps, IReadOnlyList<EvalRecord> evaluations, string? mainMetric,
        IReadOnlyList<(string Name, IReadOnlyDictionary<string, double> Metrics)>? references = null)
    {
        var plot = new Plot();
        if (SansFont.Value is { } font) plot.Font.Set(font);
        var train = steps.Where(s => double.IsFinite(s.Loss)).OrderBy(s => s.Step).ToList();
        double[] trainX = train.Select(s => (double)s.Step).ToArray();
        double[] trainY = train.Select(s => s.Loss).ToArray();
        if (train.Count > 0)
        {
            bool few = train.Count <= 2;
            var raw = plot.Add.ScatterLine(trainX, trainY, few ? TrainColor : TrainColor.WithAlpha(0.35));
            raw.LineWidth = 1;
            raw.LegendText = "training loss";
            if (few) raw.MarkerSize = 7;
            else
            {
                var smooth = plot.Add.ScatterLine(trainX, Ema(trainY, Smoothing), TrainColor);
                smooth.LineWidth = 2.5f;
                smooth.LegendText = $"training loss (EMA {Smoothing:0.##})";
            }
        }

        var evals = evaluations.OrderBy(e => e.Step).ToList();
        var validation = evals.Where(e => e.Metrics.TryGetValue("loss", out var v) && double.IsFinite(v)).ToList();
        // Evaluations are points in time, not a curve: markers, which a few evaluations cannot turn into a misleading line.
        if (validation.Count > 0)
        {
            var markers = plot.Add.Markers(validation.Select(e => (double)e.Step).ToArray(), validation.Select(e => e.Metrics["loss"]).ToArray(),
                MarkerShape.FilledCircle, 9, ValidationColor);
            markers.LegendText = "validation loss";
        }

        var metric = mainMetric ?? evals.SelectMany(e => e.Metrics.Keys).FirstOrDefault(k => k is not ("loss" or "perplexity") && !Rounds.ForgettingProbe.MetricKeys.Contains(k));
        var metricPoints = metric is null or "loss" or "perplexity" ? []
            : evals.Where(e => e.Metrics.TryGetValue(metric, out var v) && double.IsFinite(v)).ToList();
        if (metricPoints.Count > 0)
        {
            var markers = plot.Add.Markers(metricPoints.Select(e => (double)e.Step).ToArray(), metricPoints.Select(e => e.Metrics[metric!]).ToArray(),
                MarkerShape.FilledSquare, 9, MetricColor);
            markers.LegendText = $"validation {metric}";
            markers.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = $"validation {metric}";
            plot.Axes.Right.Label.ForeColor = MetricColor;
        }

        // The forgetting curve: general-text loss is in the loss's units (left axis); embedding agreement is a 0-1 score (right).
        var general = evals.Where(e => e.Metrics.TryGetValue("general_loss", out var v) && double.IsFinite(v)).ToList();
        if (general.Count > 0)
        {
            var markers = plot.Add.Markers(general.Select(e => (double)e.Step).ToArray(), general.Select(e => e.Metrics["general_loss"]).ToArray(),
                MarkerShape.FilledDiamond, 9, ForgettingColor);
            markers.LegendText = "general-text loss (forgetting)";
        }
        var agreement = evals.Where(e => e.Metrics.TryGetValue("embedding_cosine", out var v) && double.IsFinite(v)).ToList();
        if (agreement.Count > 0)
        {
            var markers = plot.Add.Markers(agreement.Select(e => (double)e.Step).ToArray(), agreement.Select(e => e.Metrics["embedding_cosine"]).ToArray(),
                MarkerShape.FilledDiamond, 9, ForgettingColor);
            markers.LegendText = "embedding cosine with the original (forgetting)";
            markers.Axes.YAxis = plot.Axes.Right;
            if (metricPoints.Count == 0) plot.Axes.Right.Label.Text = "embedding cosine";
        }

        // The scores to beat, in the units of the axis the evaluations of that metric are on.
        string referenceMetric = metricPoints.Count > 0 ? metric! : "loss";
        int color = 0;
        foreach (var (name, metrics) in references ?? [])
        {
            if (!metrics.TryGetValue(referenceMetric, out var value) || !double.IsFinite(value)) continue;
            var line = plot.Add.HorizontalLine(value, 1.5f, ReferenceColors[color++ % ReferenceColors.Length], LinePattern.Dotted);
            line.LegendText = $"{name} ({referenceMetric} {value.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)})";
            if (metricPoints.Count > 0) line.Axes.YAxis = plot.Axes.Right;
        }

        bool anything = train.Count > 0 || validation.Count > 0 || metricPoints.Count > 0;
        plot.Title(metricPoints.Count > 0 ? $"Loss and validation {metric}" : "Training and validation loss");
        plot.XLabel("optimizer step");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.YLabel("loss");
        // Below the axes: inside, it would cover the rising metric or the start of the loss, whichever corner it took.
        if (anything) plot.ShowLegend(Edge.Bottom);
        else
        {
            plot.Add.Annotation("no steps logged yet", Alignment.MiddleCenter);
            plot.Axes.SetLimits(0, 10, 0, 1);
        }
        return plot;
    }

    /// <summary>Exponential moving average with the start-up bias removed, so the first points are not pulled toward zero.</summary>
    public static double[] Ema(IReadOnlyList<double> values, double weight)
    {
        var result = new double[values.Count];
        double average = 0, correction = 1;
        for (int i = 0; i < values.Count; i++)
        {
            average = weight * average + (1 - weight) * values[i];
            correction *= weight;
            result[i] = average / (1 - correction);
        }
        return result;
    }
}
