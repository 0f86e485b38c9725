using PeftSharp.IO;
using PeftSharp.Training.Reporting;
using ScottPlot;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// heatmap-&lt;estimator&gt;.png: one estimator's share of importance, layers down (in model order, modules outside the
/// numbered stack last as "other") and module roles across. Where the importance sits (low or high layers, attention or
/// feed-forward) is what the table cannot show at a glance. Empty cells are candidates the estimator does not score.
/// </summary>
public static class AnalysisHeatmap
{
    public static string FileName(string estimator) => $"heatmap-{estimator}.png";

    /// <summary>Rows (layers), columns (roles) and the share in each cell (NaN where there is none).</summary>
    public static (IReadOnlyList<string> Layers, IReadOnlyList<string> Roles, double[,] Shares) Grid(AnalysisResult result, string estimator)
    {
        var scored = result.Modules.Where(m => m.Scores.ContainsKey(estimator)).ToList();
        var layers = scored.Select(m => m.Candidate.Layer).Distinct().OrderBy(l => l.Length == 0 ? 1 : 0).ToList();
        var roles = scored.Where(m => m.Candidate.Layer.Length > 0).Select(m => m.Candidate.Role).Distinct()
            .Concat(scored.Where(m => m.Candidate.Layer.Length == 0).Select(m => m.Candidate.Role)).Distinct().ToList();
        var shares = new double[layers.Count, roles.Count];
        for (int r = 0; r < layers.Count; r++)
            for (int c = 0; c < roles.Count; c++)
                shares[r, c] = double.NaN;
        foreach (var m in scored)
            shares[layers.IndexOf(m.Candidate.Layer), roles.IndexOf(m.Candidate.Role)] = m.Scores[estimator].Share;
        return (layers.Select(l => l.Length == 0 ? "other" : l).ToList(), roles, shares);
    }

    public static void Save(string path, AnalysisResult result, string estimator)
    {
        var (layers, roles, shares) = Grid(result, estimator);
        using var plot = new Plot();
        if (LossPlot.SansFont.Value is { } font) plot.Font.Set(font);
        var map = plot.Add.Heatmap(shares);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        var bar = plot.Add.ColorBar(map);
        bar.Label = "share of importance";
        // ScottPlot draws row 0 at the top; cell centres are at integer positions.
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, roles.Count).Select(i => (double)i).ToArray(), roles.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 12 + 7 * roles.Max(r => r.Length);
        plot.Axes.Left.SetTicks(Enumerable.Range(0, layers.Count).Select(i => (double)(layers.Count - 1 - i)).ToArray(), layers.ToArray());
        var e = ImportanceEstimator.Named(estimator);
        plot.Title($"{e.Title} ({estimator}), {result.Samples} examples");
        int width = Math.Max(600, 160 + 70 * roles.Count), height = Math.Max(400, 200 + 28 * layers.Count + 7 * roles.Max(r => r.Length));
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(width, height, ImageFormat.Png));
    }
}
