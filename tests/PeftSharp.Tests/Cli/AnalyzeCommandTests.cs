using PeftSharp.Tests.Support;
using PeftSharp.Training.Analysis;

namespace PeftSharp.Tests.Cli;

/// <summary>peft analyze end to end on the tiny BERT sentiment task: files written, table printed, bad input refused without touching disk.</summary>
[Collection(CliRunner.Collection)]
public class AnalyzeCommandTests
{
    [Fact]
    public void Analyze_writes_the_json_table_and_heatmaps_and_prints_the_ranking()
    {
        using var run = new TinyTrainingRun();
        var outDir = Path.Combine(run.Root, "analysis");
        var (exit, output, err) = CliRunner.Run("analyze", "--model", run.ModelDir, "--data", run.DataFile, "--out", outDir, "--samples", "32",
            "--head-steps", "10", "--lora-drop-steps", "5", "--max-length", "24", "--top", "5");
        Assert.True(exit == 0, err);
        Assert.Contains("task: classification (from the data", err);
        var result = AnalysisResult.Read(outDir);
        Assert.Equal("classification", result.Task);
        Assert.Equal(32, result.Samples);
        Assert.Equal(["sensitivity", "fisher", "lora-drop", "kappa"], result.Estimators);
        // the new classifier is fitted, never a candidate
        Assert.DoesNotContain(result.Modules, m => m.Candidate.Name.StartsWith("classifier", StringComparison.Ordinal));
        Assert.Contains(result.Notes, n => n.StartsWith("fitted the new head", StringComparison.Ordinal));
        foreach (var e in result.Estimators)
        {
            var png = Path.Combine(outDir, AnalysisHeatmap.FileName(e));
            Assert.True(new FileInfo(png).Length > 1000, png);
            Assert.Equal(1.0, result.Ranked(e).Sum(m => m.Scores[e].Share), 6);
        }
        var top = result.Ranked("sensitivity")[0].Candidate.Name;
        Assert.Contains(top, output);
        Assert.Contains("| 1 | " + top + " |", File.ReadAllText(Path.Combine(outDir, "analysis.md")));
        // a second run replaces an earlier analysis in place
        Assert.Equal(0, CliRunner.Run("analyze", "--model", run.ModelDir, "--data", run.DataFile, "--out", outDir, "--samples", "8",
            "--estimators", "kappa").Exit);
        Assert.Equal(["kappa"], AnalysisResult.Read(outDir).Estimators);
    }

    [Fact]
    public void Analyze_refuses_a_folder_that_is_not_an_analysis_and_bad_options_before_any_work()
    {
        using var run = new TinyTrainingRun();
        var (exit, _, err) = CliRunner.Run("analyze", "--model", run.ModelDir, "--data", run.DataFile, "--out", run.ModelDir);
        Assert.Equal(2, exit);
        Assert.Contains("holds something other than an analysis", err);
        (exit, _, err) = CliRunner.Run("analyze", "--model", run.ModelDir, "--data", run.DataFile, "--estimators", "sensitivity,magic", "--samples", "0",
            "--out", Path.Combine(run.Root, "x"));
        Assert.Equal(2, exit);
        Assert.Contains("magic", err);
        Assert.Contains("samples", err);
        Assert.False(Directory.Exists(Path.Combine(run.Root, "x")));
    }
}
