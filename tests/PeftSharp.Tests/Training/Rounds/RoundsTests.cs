using System.Text.Json;
using PeftSharp.Data;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Training.Rounds;
using PeftSharp.Training.Reporting;

namespace PeftSharp.Tests.Training.Rounds;

/// <summary>
/// Forgetting in real training runs and the rounds workflow: every run logs its drift from the original, an adapter
/// carries its validation set, and a run continuing it compares that set example by example before and after.
/// </summary>
[Collection(SerialRandomness.Name)]
public class RoundsTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();

    public void Dispose() => _run.Dispose();

    private TrainingOptions Options(string name) => _run.Options(name) with { Epochs = 3, LearningRate = 0.01, Dropout = 0, Pooling = "mean" };

    [Fact]
    public void Every_run_logs_its_drift_from_the_original_at_each_evaluation_starting_from_none()
    {
        var o = Options("drift");
        var summary = TrainingSession.Run(o);
        var (_, evaluations) = MetricsLog.Read(Path.Combine(o.Output, MetricsLog.FileName));
        var start = evaluations.Single(e => e.Step == 0).Metrics;
        Assert.Equal(1.0, start[EmbeddingDrift.CosineKey], 12); // LoRA starts with B = 0: the original itself
        Assert.Equal(1.0, start[EmbeddingDrift.OverlapKey]);
        Assert.All(evaluations, e => Assert.Contains(EmbeddingDrift.CosineKey, e.Metrics.Keys));
        Assert.True(summary.After![EmbeddingDrift.CosineKey] < 1, "a trained LoRA on every layer moves the embeddings");
        Assert.True(File.Exists(Path.Combine(o.Output, ForgettingProbe.ReferenceFile)));
        var report = File.ReadAllText(Path.Combine(o.Output, RunReport.FileName));
        Assert.Contains("## Forgetting", report);
        Assert.Contains("embedding cosine", report);
        Assert.DoesNotContain("## Earlier rounds", report); // no earlier round to check

        var off = TrainingSession.Run(Options("off") with { Forgetting = "off" });
        Assert.DoesNotContain(EmbeddingDrift.CosineKey, off.After!.Keys);
        Assert.False(File.Exists(Path.Combine(off.OutputDir, ForgettingProbe.ReferenceFile)));
        // Forgetting is measured, never trained on: the adapter is the same with it off.
        Assert.Equal(File.ReadAllBytes(Path.Combine(summary.AdapterDir, "adapter_model.safetensors")), File.ReadAllBytes(Path.Combine(off.AdapterDir, "adapter_model.safetensors")));
    }

    private sealed class StopAt(int step, CancellationTokenSource cancel) : ITrainerObserver
    {
        public void OnStep(StepRecord record)
        {
            if (record.Step == step) cancel.Cancel();
        }
    }

    [Fact]
    public void A_resumed_full_fine_tune_measures_against_the_reference_it_kept_and_ends_with_the_uninterrupted_drift()
    {
        // Full fine-tuning has no adapter to disable: after a restart only the kept reference knows the original.
        var o = Options("full") with { Method = "full", LearningRate = 1e-3, MaxSteps = 8, EvalEvery = 4, SaveEvery = 2 };
        var whole = TrainingSession.Run(o);
        using var cancel = new CancellationTokenSource();
        var cut = o with { Output = Path.Combine(_run.Root, "full-cut") };
        var first = TrainingSession.Run(cut, new StopAt(3, cancel), cancel.Token);
        Assert.True(first.Interrupted);
        var resumed = TrainingSession.Run(cut with { Resume = true });
        Assert.Equal(whole.After![EmbeddingDrift.CosineKey], resumed.After![EmbeddingDrift.CosineKey]);
        Assert.Equal(whole.After[EmbeddingDrift.OverlapKey], resumed.After[EmbeddingDrift.OverlapKey]);
        Assert.True(whole.After[EmbeddingDrift.CosineKey] < 1);
        Assert.Equal(File.ReadAllBytes(Path.Combine(o.Output, ForgettingProbe.ReferenceFile)), File.ReadAllBytes(Path.Combine(cut.Output, ForgettingProbe.ReferenceFile)));
    }

    [Fact]
    public void A_second_round_checks_the_first_rounds_set_example_by_example_and_passes_both_on()
    {
        var first = TrainingSession.Run(Options("round1"));
        var recorded = RetentionSets.Recorded(first.AdapterDir, DataIssueLog.Strict());
        var set = Assert.Single(recorded);
        Assert.Equal("round-1", set.Name);
        var validation = DatasetSplit.TrainValidation(DataFileReader.ReadAll(_run.DataFile, DataIssueLog.Strict()), 0.25, 7).Validation;
        Assert.Equal(validation.Select(r => r.GetString("text")), set.Records.Select(r => r.GetString("text")));

        // Round 2 on other data, continuing round 1's adapter.
        using var other = new TinyTrainingRun(examples: 64);
        var second = TrainingSession.Run(Options("round2") with { TrainData = other.DataFile, FromAdapter = first.AdapterDir, Seed = 11 });
        var check = Assert.Single(second.Retention);
        Assert.Equal("round-1", check.Name);
        Assert.Equal(validation.Count, check.Examples);
        // "before" is round 1's adapter on its own validation set: exactly the accuracy round 1 reported at its end.
        Assert.Equal(first.After!["accuracy"], check.Before["accuracy"], 12);
        var t = check.Transitions!;
        Assert.Equal(check.Examples, t.Examples);
        Assert.Equal(check.Before["accuracy"] * check.Examples, t.RightToRight + t.RightToWrong, 6);
        Assert.Equal(check.After["accuracy"] * check.Examples, t.RightToRight + t.WrongToRight, 6);
        Assert.Equal(Math.Min(SetComparison.ChangedShown, t.RightToWrong + t.WrongToRight), check.Changed.Count);

        var log = File.ReadAllLines(Path.Combine(second.OutputDir, MetricsLog.FileName)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var retention = Assert.Single(log, e => e.GetProperty("type").GetString() == "retention");
        Assert.Equal(t.RightToWrong, retention.GetProperty("sets")[0].GetProperty("transitions").GetProperty("right_to_wrong").GetInt32());
        Assert.Contains("## Earlier rounds", File.ReadAllText(Path.Combine(second.OutputDir, RunReport.FileName)));
        Assert.Equal(["round-1", "round-2"], RetentionSets.Recorded(second.AdapterDir, DataIssueLog.Strict()).Select(s => s.Name));
    }

    [Fact]
    public void Retain_data_names_more_sets_and_a_set_already_held_is_not_checked_twice()
    {
        var extra = Path.Combine(_run.Root, "earlier.jsonl");
        File.Copy(_run.DataFile, extra);
        var o = Options("retain") with { RetainData = [extra, _run.DataFile], MaxSteps = 2 };
        var summary = TrainingSession.Run(o);
        var check = Assert.Single(summary.Retention); // the same records twice are one set
        Assert.Equal("earlier", check.Name);
        Assert.Equal(96, check.Examples);
        Assert.Equal(["earlier", "round-1"], RetentionSets.Recorded(summary.AdapterDir, DataIssueLog.Strict()).Select(s => s.Name));
    }

    [Fact]
    public void An_adapter_folder_whose_set_names_would_leave_it_is_refused_naming_the_file()
    {
        var dir = Path.Combine(_run.Root, "bad-adapter");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, RetentionSets.IndexFile), "{\"sets\": [\"../../etc/passwd\"]}");
        var e = Assert.Throws<PeftException>(() => RetentionSets.Recorded(dir, DataIssueLog.Strict()));
        Assert.Contains(RetentionSets.IndexFile, e.Message);
        Assert.Contains("plain file name", e.Message);
        File.WriteAllText(Path.Combine(dir, RetentionSets.IndexFile), "{\"sets\": [\"missing\"]}");
        Assert.Contains("has no file", Assert.Throws<PeftException>(() => RetentionSets.Recorded(dir, DataIssueLog.Strict())).Message);
    }

    [Fact]
    public void Transitions_count_each_example_by_its_outcome_before_and_after()
    {
        static ExampleOutcome O(bool right, int i) => new($"f:{i}", 1, right ? 1 : 0, 0.9, right ? 0.1 : 2.0, 1);
        bool[] before = [true, true, false, false, true], after = [true, false, true, false, false];
        var t = Transitions.Between(before.Select(O).ToList(), after.Select(O).ToList());
        Assert.Equal(new Transitions(1, 2, 1, 1), t);
        Assert.Equal(2.0 / 3, t.ForgettingRate, 12);
        Assert.Equal(0.5, t.BackwardTransferRate, 12);
        var comparison = SetComparison.Of("s", "f", before.Select(O).ToList(), after.Select(O).ToList(), o => o, id => id == 1 ? "pos" : "neg");
        Assert.Equal(["right→wrong", "right→wrong", "wrong→right"], comparison.Changed.Select(c => c.Change));
        Assert.Equal(["f:1", "f:4", "f:2"], comparison.Changed.Select(c => c.Origin));
        Assert.Equal(0.6, comparison.Before["accuracy"], 12);
        Assert.Equal(0.4, comparison.After["accuracy"], 12);
        Assert.Throws<PeftException>(() => Transitions.Between(before.Select(O).ToList(), after.Skip(1).Select(O).ToList()));
    }
}
