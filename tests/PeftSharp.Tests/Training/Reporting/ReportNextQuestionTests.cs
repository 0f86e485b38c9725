using PeftSharp.Data;
using PeftSharp.Tests.IO;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using ScottPlot;
using ScottPlot.Plottables;

namespace PeftSharp.Tests.Training.Reporting;

/// <summary>
/// Reports that answer the next question (issue 11, point 8): where the adapter is and which weights it holds, what was
/// skipped, what to run next; a plot with evaluations as markers and the scores to beat as reference lines.
/// </summary>
public class ReportNextQuestionTests
{
    private static (TrainingSummary, TrainingOptions) Example(string runDir, int skipped = 0, int? adapterStep = 350, bool best = true)
    {
        var (steps, evals) = LossPlotTests.Run(400);
        var options = new TrainingOptions { Model = "/models/all-MiniLM-L6-v2", TrainData = "/data/train.csv", ValidationData = "/data/test.csv", Output = runDir, Task = "classification" };
        var summary = new TrainingSummary
        {
            OutputDir = runDir, AdapterDir = Path.Combine(runDir, "adapter"), BestCheckpoint = Path.Combine(runDir, "checkpoints", "step-350"),
            AdapterStep = adapterStep, AdapterIsBest = best, Steps = 400, TrainSeconds = 100, TrainableParameters = 10, AllParameters = 100,
            StepLog = steps, Evaluations = evals, Task = "classification",
            Skipped = Enumerable.Range(1, skipped).Select(i => new DataIssue("/data/train.csv", i + 1, $"label is missing ({i})")).ToList(),
        };
        return (summary, options);
    }

    [Fact]
    public void The_adapter_is_named_by_its_absolute_path_and_which_weights_it_holds()
    {
        using var dir = new TempDir();
        var (summary, options) = Example(dir.Path);
        var md = RunReport.Render(summary, options);
        Assert.Contains($"| adapter | `{Path.Combine(dir.Path, "adapter")}` (the best checkpoint on validation: step 350 of 400) |", md);
        md = RunReport.Render(summary with { AdapterStep = 400, AdapterIsBest = false }, options);
        Assert.Contains("(the last step, 400) |", md);
        md = RunReport.Render(summary with { AdapterStep = 400, AdapterIsBest = true }, options);
        Assert.Contains("(the last step, 400, which is also the best on validation) |", md);
    }

    [Fact]
    public void A_run_without_an_adapter_or_checkpoint_folder_still_gets_its_report()
    {
        using var dir = new TempDir();
        var (summary, options) = Example(dir.Path);
        var md = RunReport.Render(summary with { AdapterDir = "", BestCheckpoint = "", OutputDir = "" }, options);
        Assert.Contains("| adapter |", md);
    }

    [Fact]
    public void Skipped_records_are_listed_with_file_and_line_up_to_a_cap_then_counted()
    {
        using var dir = new TempDir();
        var (summary, options) = Example(dir.Path, skipped: 25);
        var md = RunReport.Render(summary, options);
        Assert.Contains("## Skipped records\n\n25 malformed records were skipped (`skip_malformed: true`):", md);
        Assert.Contains("- `/data/train.csv:2`: label is missing (1)\n", md);
        Assert.Contains($"- `/data/train.csv:{RunReport.SkippedShown + 1}`: label is missing ({RunReport.SkippedShown})\n", md);
        Assert.DoesNotContain($"label is missing ({RunReport.SkippedShown + 1})", md);
        Assert.Contains("- and 5 more\n", md);
        Assert.DoesNotContain("## Skipped records", RunReport.Render(Example(dir.Path).Item1, options));
    }

    [Fact]
    public void The_report_ends_with_next_steps_for_the_adapter()
    {
        using var dir = new TempDir();
        var (summary, options) = Example(dir.Path);
        var md = RunReport.Render(summary, options);
        var next = md[md.IndexOf("## Next steps", StringComparison.Ordinal)..];
        var adapter = Path.Combine(dir.Path, "adapter");
        Assert.Contains($"peft predict --model /models/all-MiniLM-L6-v2 --adapter {adapter} --text \"Your text here\"", next);
        Assert.Contains($"peft eval --model /models/all-MiniLM-L6-v2 --adapter {adapter} --data /data/test.csv", next);
        Assert.Contains($"peft merge --model /models/all-MiniLM-L6-v2 --adapter {adapter} --out {Path.Combine(dir.Path, "merged")}", next);
        Assert.EndsWith("```\n", md);
        // A language model's adapter is used with generate; an interrupted run has no next steps but --resume.
        Assert.Contains("peft generate --model", RunReport.Render(summary with { Task = "instruction" }, options with { Task = "instruction" }));
        Assert.DoesNotContain("## Next steps", RunReport.Render(summary with { Interrupted = true }, options));
    }

    [Fact]
    public void The_plot_draws_evaluations_as_markers_and_the_scores_to_beat_as_lines()
    {
        var (steps, evals) = LossPlotTests.Run(400);
        IReadOnlyDictionary<string, double> before = new Dictionary<string, double> { ["loss"] = 0.69, ["accuracy"] = 0.5 };
        IReadOnlyDictionary<string, double> frozen = new Dictionary<string, double> { ["loss"] = 0.5, ["accuracy"] = 0.7 };
        using var plot = LossPlot.Build(steps, evals, "accuracy", [("before training", before), ("frozen model, trained head", frozen)]);
        var markers = plot.GetPlottables().OfType<Markers>().ToList();
        Assert.Equal(["validation loss", "validation accuracy"], markers.Select(m => m.LegendText));
        Assert.DoesNotContain(plot.GetPlottables().OfType<Scatter>(), s => s.LegendText.StartsWith("validation", StringComparison.Ordinal));
        var lines = plot.GetPlottables().OfType<HorizontalLine>().ToList();
        Assert.Equal([0.5, 0.7], lines.Select(l => l.Y));
        Assert.All(lines, l => Assert.Same(plot.Axes.Right, l.Axes.YAxis)); // on the accuracy axis, with the accuracy markers
        Assert.Contains("before training (accuracy 0.5)", lines.Select(l => l.LegendText));
    }

    [Fact]
    public void A_language_model_s_plot_shows_validation_loss_only_without_a_perplexity_axis()
    {
        var steps = Enumerable.Range(1, 50).Select(s => new StepRecord(s, 0, 3 - s * 0.02, 1e-4, null, 100, 100, s)).ToList();
        var evals = new[] { 0, 25, 50 }.Select(s => new EvalRecord(s, 0, new Dictionary<string, double> { ["loss"] = 3 - s * 0.02, ["perplexity"] = Math.Exp(3 - s * 0.02) }, s)).ToList();
        foreach (var metric in new[] { null, "loss", "perplexity" })
        {
            using var plot = LossPlot.Build(steps, evals, metric, [("before training", evals[0].Metrics)]);
            Assert.Equal(["validation loss"], plot.GetPlottables().OfType<Markers>().Select(m => m.LegendText));
            Assert.DoesNotContain(plot.GetPlottables(), p => p.Axes.YAxis == plot.Axes.Right);
            Assert.Equal([3.0], plot.GetPlottables().OfType<HorizontalLine>().Select(l => l.Y)); // before training, in loss
        }
    }
}
