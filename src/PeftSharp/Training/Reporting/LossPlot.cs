using PeftSharp.IO;
using ScottPlot;

namespace PeftSharp.Training.Reporting;

/// <summary>
/// loss.png: training loss per step (raw, thin, and an exponential moving average, because per-batch loss is too noisy
/// to read a trend from), validation loss, and the main validation metric on a second y axis, against optimizer steps.
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

    /// <summary>A sans-serif family the system has: ScottPlot's own choice falls on a serif font on Debian.</summary>
    private static readonly Lazy<string?> SansFont = new(() =>
    {
        var families = SkiaSharp.SKFontManager.Default.GetFontFamilies();
        return new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(families.Contains);
    });

    /// <summary>
    /// Draws the plot and writes it to <paramref name="pngPath"/>. <paramref name="mainMetric"/> is the validation
    /// metric for the right axis (accuracy, f1, ...); null picks the first one other than loss that the evaluations
    /// have; "loss", or a metric no evaluation has, draws none. Non-finite values (a diverged step) are left out.
    /// </summary>
    public static void Save(string pngPath, IReadOnlyList<StepRecord> steps, IReadOnlyList<EvalRecord> evaluations, string? mainMetric,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 100);
        var bytes = Render(steps, evaluations, mainMetric, width, height);
        var folder = Path.GetDirectoryName(Path.GetFullPath(pngPath))!;
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllBytes(pngPath, bytes);
    }

    /// <summary>The PNG bytes of the plot.</summary>
    public static byte[] Render(IReadOnlyList<StepRecord> steps, IReadOnlyList<EvalRecord> evaluations, string? mainMetric, int width, int height)
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
        if (validation.Count > 0)
        {
            var line = plot.Add.Scatter(validation.Select(e => (double)e.Step).ToArray(), validation.Select(e => e.Metrics["loss"]).ToArray(), ValidationColor);
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LegendText = "validation loss";
        }

        var metric = mainMetric ?? evals.SelectMany(e => e.Metrics.Keys).FirstOrDefault(k => k != "loss");
        var metricPoints = metric is null or "loss" ? []
            : evals.Where(e => e.Metrics.TryGetValue(metric, out var v) && double.IsFinite(v)).ToList();
        if (metricPoints.Count > 0)
        {
            var line = plot.Add.Scatter(metricPoints.Select(e => (double)e.Step).ToArray(), metricPoints.Select(e => e.Metrics[metric!]).ToArray(), MetricColor);
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.MarkerShape = MarkerShape.FilledSquare;
            line.LinePattern = LinePattern.Dashed;
            line.LegendText = $"validation {metric}";
            line.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = $"validation {metric}";
            plot.Axes.Right.Label.ForeColor = MetricColor;
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
        return plot.GetImageBytes(width, height, ImageFormat.Png);
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
