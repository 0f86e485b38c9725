using PeftSharp.Tests.IO;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;

namespace PeftSharp.Tests.Training.Reporting;

public class RunReportTests
{
    private static (TrainingSummary, TrainingOptions) Example(string runDir)
    {
        var (steps, evals) = LossPlotTests.Run(400);
        var options = new TrainingOptions
        {
            Model = "/models/all-MiniLM-L6-v2", TrainData = "/data/uci-sentiment/train.csv", Output = runDir, Task = "classification", // as resolved by the session
            TargetModules = ["query", "value"], ModulesToSave = ["classifier"], Rank = 8, Alpha = 16, MaxSteps = 400,
        };
        var summary = new TrainingSummary
        {
            OutputDir = runDir,
            AdapterDir = Path.Combine(runDir, "adapter"),
            BestCheckpoint = Path.Combine(runDir, "checkpoint-350"),
            Steps = 400,
            TrainSeconds = 754.2,
            TrainableParameters = 148_994,
            AllParameters = 22_862_594,
            PeakRssGiB = 1.2345,
            Before = new Dictionary<string, double> { ["loss"] = 0.6931, ["accuracy"] = 0.5012 },
            After = new Dictionary<string, double> { ["loss"] = 0.3512, ["accuracy"] = 0.8867 },
            Baselines = new Dictionary<string, IReadOnlyDictionary<string, double>>
            {
                ["full fine-tuning"] = new Dictionary<string, double> { ["loss"] = 0.3101, ["accuracy"] = 0.9012, ["f1"] = 0.9 },
            },
            StopReason = "max_steps reached",
            StepLog = steps,
            Evaluations = evals,
        };
        return (summary, options);
    }

    [Fact]
    public void Report_has_header_options_cost_validation_and_plot()
    {
        using var dir = new TempDir();
        var (summary, options) = Example(dir.Path);
        var user = new Dictionary<string, IReadOnlyDictionary<string, double>> { [RunReport.ParseBaseline("paper: accuracy=0.91").Name] = RunReport.ParseBaseline("paper: accuracy=0.91").Metrics };
        LossPlot.Save(Path.Combine(dir.Path, LossPlot.FileName), summary.StepLog, summary.Evaluations, "accuracy");
        var path = RunReport.Write(summary, options, user);
        Assert.Equal(Path.Combine(dir.Path, "report.md"), path);
        var md = File.ReadAllText(path);

        Assert.StartsWith("# Training report: LoRA on all-MiniLM-L6-v2\n", md);
        Assert.Contains("400 steps in 12 min 34 s; stopped: max_steps reached.", md);
        Assert.Contains("| model | `/models/all-MiniLM-L6-v2` |", md);
        Assert.Contains("| task | classification |", md);
        Assert.Contains("train `/data/uci-sentiment/train.csv`; validation 10% of the training data (seed 42)", md);
        Assert.Contains("LoRA r=8, alpha=16, dropout 0.05; targets query, value; also training classifier", md);
        Assert.Contains($"| adapter | `{Path.Combine(dir.Path, "adapter")}` |", md);
        Assert.Contains("## Options", md);
        Assert.Contains("| optimizer | adamw, learning rate 2e-4, weight decay 0.01 |", md);
        Assert.Contains("| length | max 400 steps |", md);
        Assert.Contains("| trainable parameters | 148,994 of 22,862,594 (0.652%) |", md);
        Assert.Contains("| training time | 12 min 34 s |", md);
        Assert.Contains("| tokens/s | 903 (median of logged steps) |", md);
        Assert.Contains("| peak memory | 1.23 GiB (resident) |", md);
        Assert.Contains("| stop reason | max_steps reached |", md);
        Assert.Contains("| best checkpoint | `checkpoint-350` |", md);
        Assert.Contains("|  | loss | accuracy | f1 |", md);
        Assert.Contains("| before training | 0.6931 | 0.5012 | – |", md);
        Assert.Contains("| after training | 0.3512 | 0.8867 | – |", md);
        Assert.Contains("| change | -0.3419 | +0.3855 | – |", md);
        Assert.Contains("| full fine-tuning | 0.3101 | 0.9012 | 0.9000 |", md);
        Assert.Contains("| paper | – | 0.9100 | – |", md);
        Assert.Contains("![training and validation loss](loss.png)", md);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void Report_without_evaluations_or_plot_stays_short()
    {
        using var dir = new TempDir();
        var (summary, options) = Example(dir.Path);
        summary = summary with { Before = null, After = null, Baselines = new Dictionary<string, IReadOnlyDictionary<string, double>>(), BestCheckpoint = null, PeakRssGiB = double.NaN, StepLog = [] };
        var md = File.ReadAllText(RunReport.Write(summary, options with { Method = "full", MaxSteps = null, Epochs = 3 }));
        Assert.StartsWith("# Training report: full fine-tuning on all-MiniLM-L6-v2\n", md);
        Assert.DoesNotContain("## Validation", md);
        Assert.DoesNotContain("loss.png", md); // not in the run folder, so not linked
        Assert.Contains("| peak memory | n/a |", md);
        Assert.Contains("| tokens/s | n/a |", md);
        Assert.Contains("| best checkpoint | none |", md);
        Assert.Contains("| length | 3 epochs |", md);
    }

    [Fact]
    public void Pipes_in_values_do_not_break_tables()
    {
        var (summary, options) = Example("/runs/a|b");
        var md = RunReport.Render(summary, options with { TrainData = "/data/x|y.csv" });
        Assert.Contains("`/data/x\\|y.csv`", md);
        Assert.Contains("`/runs/a\\|b`", md);
    }

    [Theory]
    [InlineData("paper: accuracy=0.91, f1=0.9", "paper", 2)]
    [InlineData("frozen model:loss=0.69", "frozen model", 1)]
    public void Parses_user_baselines(string text, string name, int count)
    {
        var (n, metrics) = RunReport.ParseBaseline(text);
        Assert.Equal(name, n);
        Assert.Equal(count, metrics.Count);
    }

    [Theory]
    [InlineData("paper")]
    [InlineData(": accuracy=1")]
    [InlineData("paper: accuracy")]
    [InlineData("paper: accuracy=high")]
    [InlineData("paper:")]
    public void Bad_user_baselines_are_user_errors(string text)
    {
        Assert.Contains("expected NAME: metric=value", Assert.Throws<PeftException>(() => RunReport.ParseBaseline(text)).Message);
    }
}
