using System.Globalization;
using System.Text;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// The ranking as people read it: ranked by the first estimator (module, layer, kind, parameters, score, share, and the
/// sensitivity's spread), with every other estimator's rank beside it, so agreement between estimators shows at a glance.
/// </summary>
public static class AnalysisTable
{
    public static IReadOnlyList<(string Header, bool RightAligned)> Columns(AnalysisResult result)
    {
        var primary = result.Estimators[0];
        var columns = new List<(string, bool)> { ("#", true), ("module", false), ("layer", false), ("kind", false), ("parameters", true), ($"{primary}", true), ("share", true) };
        if (primary == ImportanceEstimator.Sensitivity) columns.Add(("±", true));
        if (primary == ImportanceEstimator.Kappa) columns.Add(("kappa", true));
        columns.AddRange(result.Estimators.Skip(1).Select(e => ($"#{e}", true)));
        return columns;
    }

    public static IEnumerable<string[]> Rows(AnalysisResult result)
    {
        var primary = result.Estimators[0];
        foreach (var m in result.Ranked(primary))
        {
            var s = m.Scores[primary];
            var c = m.Candidate;
            var row = new List<string>
            {
                s.Rank.ToString(CultureInfo.InvariantCulture), c.Name, c.LayerIndex?.ToString(CultureInfo.InvariantCulture) ?? "-", ModuleCandidate.KindName(c.Kind),
                NumberText.Count(c.Parameters), s.Score.ToString("G4", CultureInfo.InvariantCulture), s.Share.ToString("P1", CultureInfo.InvariantCulture),
            };
            if (primary == ImportanceEstimator.Sensitivity) row.Add(s.Spread is { } spread ? spread.ToString("P0", CultureInfo.InvariantCulture) : "");
            if (primary == ImportanceEstimator.Kappa) row.Add(s.Raw is { } k ? k.ToString("G4", CultureInfo.InvariantCulture) : "");
            row.AddRange(result.Estimators.Skip(1).Select(e => m.Scores.TryGetValue(e, out var o) ? o.Rank.ToString(CultureInfo.InvariantCulture) : "-"));
            yield return row.ToArray();
        }
    }

    /// <summary>analysis.md: what was measured and how, then the whole table.</summary>
    public static string Markdown(AnalysisResult result)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# Module analysis of {result.Model}\n\n");
        text.Append(CultureInfo.InvariantCulture, $"{result.Modules.Count} candidates scored on {result.Samples} examples of {result.Data} (task {result.Task}, seed {result.Seed}).\n\n");
        foreach (var e in result.Estimators.Select(ImportanceEstimator.Named))
            text.Append(CultureInfo.InvariantCulture, $"- **{e.Name}** ({e.Title}): {e.Measures}. {e.Paper}.\n");
        foreach (var note in result.Notes) text.Append(CultureInfo.InvariantCulture, $"- {note}\n");
        text.Append('\n');
        var columns = Columns(result);
        text.Append("| ").AppendJoin(" | ", columns.Select(c => c.Header)).Append(" |\n");
        text.Append('|').AppendJoin("", columns.Select(c => c.RightAligned ? "---:|" : "---|")).Append('\n');
        foreach (var row in Rows(result)) text.Append("| ").AppendJoin(" | ", row).Append(" |\n");
        return text.ToString();
    }
}
