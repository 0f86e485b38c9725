using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training;

/// <summary>
/// A resume never damages a run: a refused one changes nothing on disk and names each option that differs; paths
/// compare as full paths; fewer steps than already taken is refused; a finished run resumed changes nothing; a failed
/// start leaves no run folder behind; an interruption (Ctrl-C) writes a checkpoint and a partial adapter, and resuming
/// from it ends where an uninterrupted run does.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class ResumeTests : IDisposable
{
    private readonly TinyTrainingRun _run = new(48);

    public void Dispose() => _run.Dispose();

    private TrainingOptions Options(string name) => _run.Options(name) with { MaxSteps = 6, SaveEvery = 2, EvalEvery = 3, KeepLast = 5 };

    private static SortedDictionary<string, string> Snapshot(string dir) => Mounts.Snapshot(dir);

    private static Dictionary<string, Tensor> Adapter(string runDir)
    {
        using var file = SafetensorsFile.Open(Path.Combine(runDir, "adapter", PeftModel.WeightsFile));
        return file.LoadAll();
    }

    private static void AssertSameAdapter(string a, string b)
    {
        var x = Adapter(a);
        var y = Adapter(b);
        Assert.Equal(x.Keys.Order(), y.Keys.Order());
        foreach (var key in x.Keys) Assert.True(x[key].equal(y[key]).all().item<bool>(), $"{key} differs");
    }

    [Fact]
    public void ARefusedResumeNamesTheDifferenceAndChangesNothing()
    {
        var o = Options("refused") with { MaxSteps = 4 };
        TrainingSession.Run(o);
        var before = Snapshot(o.Output);
        var e = Assert.Throws<PeftException>(() => TrainingSession.Run(o with { Resume = true, MaxSteps = 8, LearningRate = 0.5, Rank = 2 }));
        Assert.Contains("different options", e.Message);
        Assert.Contains("learning_rate was 0.001, now 0.5", e.Message);
        Assert.Contains("rank was 4, now 2", e.Message);
        Assert.DoesNotContain("max_steps was", e.Message); // a resume may change the length
        Assert.Contains("may change only epochs, max_steps, eval_every", e.Message);
        Assert.Equal(before, Snapshot(o.Output));
    }

    [Fact]
    public void TheSameFileSpelledRelativeOrAbsoluteIsTheSameRun()
    {
        var o = Options("paths") with { MaxSteps = 4 };
        TrainingSession.Run(o);
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, _run.DataFile);
        Assert.False(Path.IsPathRooted(relative));
        var resumed = TrainingSession.Run(o with { Resume = true, MaxSteps = 6, TrainData = relative, Model = _run.ModelDir + "/" });
        Assert.Equal(6, resumed.Steps);
        Assert.Equal("finished", resumed.StopReason);
    }

    [Fact]
    public void FewerStepsThanAlreadyTakenIsRefusedAndChangesNothing()
    {
        var o = Options("shorter");
        TrainingSession.Run(o);
        var before = Snapshot(o.Output);
        var e = Assert.Throws<PeftException>(() => TrainingSession.Run(o with { Resume = true, MaxSteps = 4 }));
        Assert.Contains("already taken 6 steps, more than max_steps 4 asks for; give --max-steps 6 or more", e.Message);
        // In epochs: 36 training rows in batches of 8 are 5 steps an epoch, so the 6 steps done need 2 epochs.
        e = Assert.Throws<PeftException>(() => TrainingSession.Run(o with { Resume = true, MaxSteps = null, Epochs = 1 }));
        Assert.Contains("more than epochs 1 (5 steps) asks for; give --epochs 2 or more", e.Message);
        Assert.Equal(before, Snapshot(o.Output));
    }

    [Fact]
    public void AFinishedRunResumedSaysSoAndChangesNothing()
    {
        var o = Options("finished");
        TrainingSession.Run(o);
        var before = Snapshot(o.Output);
        Assert.Contains("before training", File.ReadAllText(Path.Combine(o.Output, RunReport.FileName)));
        var again = TrainingSession.Run(o with { Resume = true, EvalEvery = 1, Threads = 1 });
        Assert.True(again.AlreadyFinished);
        Assert.StartsWith("already finished at step 6", again.StopReason);
        Assert.Equal(before, Snapshot(o.Output));
    }

    [Fact]
    public void MoreStepsContinueAndTheReportKeepsItsBeforeTrainingRow()
    {
        var o = Options("longer") with { MaxSteps = 4 };
        TrainingSession.Run(o);
        var longer = TrainingSession.Run(o with { Resume = true, MaxSteps = 8 });
        Assert.Equal(8, longer.Steps);
        Assert.NotNull(longer.Before);
        Assert.Contains("before training", File.ReadAllText(Path.Combine(o.Output, RunReport.FileName)));
        Assert.Contains("max_steps: 8", File.ReadAllText(Path.Combine(o.Output, TrainConfigFile.RunFileName)));
    }

    [Fact]
    public void AFailedStartLeavesNoRunFolder()
    {
        // Fails before training: a data file without the label field.
        var noLabels = Path.Combine(_run.Root, "nolabels.jsonl");
        File.WriteAllLines(noLabels, Enumerable.Range(0, 20).Select(i => $"{{\"text\": \"sentence {i}\"}}"));
        var o = Options("failed-start") with { TrainData = noLabels };
        Assert.ThrowsAny<Exception>(() => TrainingSession.Run(o));
        Assert.False(Directory.Exists(o.Output));

        // Fails after it began but before its first checkpoint: the metric for best is not one classification computes.
        o = Options("failed-first-eval") with { MetricForBest = "perplexity", SaveEvery = 0 };
        var e = Assert.Throws<PeftException>(() => TrainingSession.Run(o));
        Assert.Contains("perplexity", e.Message);
        Assert.False(Directory.Exists(o.Output));
    }

    /// <summary>Cancels the run's token when a step is reported (what the CLI's first Ctrl-C does).</summary>
    private sealed class CancelAt(int step, CancellationTokenSource cancel) : ITrainerObserver
    {
        public void OnStep(StepRecord s) { if (s.Step == step) cancel.Cancel(); }
    }

    [Theory]
    [InlineData(4)] // between steps
    [InlineData(3)] // step 3's evaluation is cut at its first batch and run on resume
    public void AnInterruptionWritesACheckpointAndAPartialAdapterAndResumesToTheSameRun(int at)
    {
        var straight = TrainingSession.Run(Options("straight"));
        var o = Options("interrupted");
        using var cancel = new CancellationTokenSource();
        var stopped = TrainingSession.Run(o, new CancelAt(at, cancel), cancel.Token);
        Assert.True(stopped.Interrupted);
        Assert.Equal(at, stopped.Steps);
        Assert.Equal(6, stopped.TotalSteps);
        Assert.Equal(Path.Combine(o.Output, "checkpoints", $"step-{at}"), stopped.Checkpoint);
        Assert.True(File.Exists(Path.Combine(stopped.AdapterDir, PeftModel.WeightsFile)));
        Assert.Contains($"(partial: interrupted at step {at} of 6", File.ReadAllText(Path.Combine(o.Output, RunReport.FileName)));
        var state = TrainerState.Read(Path.Combine(stopped.Checkpoint!, Checkpoints.StateFile));
        Assert.Equal(at == 3 ? 0 : null, state.PendingEvaluationEpoch);

        var resumed = TrainingSession.Run(o with { Resume = true });
        Assert.False(resumed.Interrupted);
        Assert.Equal(6, resumed.Steps);
        AssertSameAdapter(straight.OutputDir, resumed.OutputDir);
        // Every evaluation of the uninterrupted run, each once.
        var (_, evaluations) = MetricsLog.Read(Path.Combine(o.Output, MetricsLog.FileName));
        Assert.Equal(straight.Evaluations.Select(e => e.Step), evaluations.Select(e => e.Step));
    }

    [Fact]
    public void AnInterruptionBeforeTheFirstStepSavesNothingAndLeavesNoRunFolder()
    {
        var o = Options("at-once");
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var stopped = TrainingSession.Run(o, cancellation: cancel.Token);
        Assert.True(stopped.Interrupted);
        Assert.Equal(0, stopped.Steps);
        Assert.Equal("", stopped.AdapterDir);
        Assert.Null(stopped.Checkpoint);
        Assert.False(Directory.Exists(o.Output));
    }

    [Fact]
    public void TheOptionsThatMayChangeOnResumeAreTheOnesTheReadmeLists()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "PeftSharp.sln"))) root = root.Parent ?? throw new InvalidOperationException("no PeftSharp.sln above the test binaries");
        var readme = File.ReadAllText(Path.Combine(root.FullName, "README.md"));
        int start = readme.IndexOf("Options that may change on resume:", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md's training notes do not list the options that may change on resume");
        int end = readme.IndexOf("(declared", start, StringComparison.Ordinal);
        var listed = System.Text.RegularExpressions.Regex.Matches(readme[start..end], "`([a-z_]+)`").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(ResumeRules.MayChange, listed);
    }
}
