using PeftSharp.Tests.IO;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;

namespace PeftSharp.Tests.Training.Reporting;

public class MetricsLogTests
{
    private static StepRecord Step(int step, double loss = 1.5) => new(step, step / 10, loss, 2e-4, step % 2 == 0 ? 0.75 : null, 1000L * step, 512.5, 0.1 * step);

    private static EvalRecord Eval(int step) => new(step, step / 10, new Dictionary<string, double> { ["loss"] = 0.5, ["accuracy"] = 0.875 }, 0.1 * step);

    [Fact]
    public void Appends_step_and_eval_lines_in_snake_case_and_reads_them_back()
    {
        using var dir = new TempDir();
        using (var log = MetricsLog.Create(dir.Path))
        {
            log.Append(Step(1));
            log.Append(Step(2));
            log.Append(Eval(2));
        }
        var lines = File.ReadAllLines(dir.File("metrics.jsonl"));
        Assert.Equal(3, lines.Length);
        Assert.Equal("""{"type":"step","step":1,"epoch":0,"loss":1.5,"learning_rate":0.0002,"grad_norm":null,"tokens":1000,"tokens_per_second":512.5,"elapsed_seconds":0.1}""", lines[0]);
        Assert.Equal("""{"type":"eval","step":2,"epoch":0,"metrics":{"loss":0.5,"accuracy":0.875},"elapsed_seconds":0.2}""", lines[2]);

        var (steps, evals) = MetricsLog.Read(dir.File("metrics.jsonl"));
        Assert.Equal([Step(1), Step(2)], steps);
        var e = Assert.Single(evals);
        Assert.Equal((2, 0, 0.2), (e.Step, e.Epoch, e.ElapsedSeconds));
        Assert.Equal(new Dictionary<string, double> { ["loss"] = 0.5, ["accuracy"] = 0.875 }, e.Metrics);
    }

    [Fact]
    public void Every_line_is_on_disk_as_soon_as_it_is_appended()
    {
        using var dir = new TempDir();
        using var log = MetricsLog.Create(dir.Path);
        log.Append(Step(1));
        // another reader (a crash, a tail -f) sees the line while the log is still open
        using var reader = new FileStream(log.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Assert.EndsWith("}\n", new StreamReader(reader).ReadToEnd());
        Assert.Single(MetricsLog.Read(log.Path).Steps);
    }

    [Fact]
    public void Non_finite_numbers_survive()
    {
        using var dir = new TempDir();
        using (var log = MetricsLog.Create(dir.Path))
        {
            log.Append(Step(1, double.NaN));
            log.Append(Step(2, double.PositiveInfinity));
            log.Append(new EvalRecord(2, 0, new Dictionary<string, double> { ["perplexity"] = double.PositiveInfinity }, 1));
        }
        var (steps, evals) = MetricsLog.Read(dir.File("metrics.jsonl"));
        Assert.True(double.IsNaN(steps[0].Loss));
        Assert.Equal(double.PositiveInfinity, steps[1].Loss);
        Assert.Equal(double.PositiveInfinity, evals[0].Metrics["perplexity"]);
    }

    [Fact]
    public void A_torn_last_line_is_ignored()
    {
        using var dir = new TempDir();
        using (var log = MetricsLog.Create(dir.Path))
        {
            log.Append(Step(1));
            log.Append(Step(2));
        }
        var path = dir.File("metrics.jsonl");
        File.AppendAllText(path, """{"type":"step","step":3,"epoch":0,"lo""");
        var (steps, _) = MetricsLog.Read(path);
        Assert.Equal([1, 2], steps.Select(s => s.Step));
    }

    [Fact]
    public void A_bad_line_in_the_middle_is_an_error_naming_the_line()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.jsonl");
        File.WriteAllText(path, """{"type":"eval","step":1,"epoch":0,"metrics":{},"elapsed_seconds":1}""" + "\n" + "garbage\n"
            + """{"type":"eval","step":2,"epoch":0,"metrics":{},"elapsed_seconds":1}""" + "\n");
        var e = Assert.Throws<PeftException>(() => MetricsLog.Read(path));
        Assert.Equal($"{path}, line 2: not a metrics record: garbage", e.Message);
        // a step line without its fields is as bad as garbage
        File.WriteAllText(path, """{"type":"step","step":1}""" + "\ngarbage\n");
        Assert.Contains("line 1", Assert.Throws<PeftException>(() => MetricsLog.Read(path)).Message);
    }

    [Fact]
    public void Unknown_record_types_are_skipped()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.jsonl");
        File.WriteAllText(path, """{"type":"note","step":1,"text":"hello"}""" + "\n");
        var (steps, evals) = MetricsLog.Read(path);
        Assert.Empty(steps);
        Assert.Empty(evals);
    }

    [Fact]
    public void Resume_drops_records_after_the_checkpoint_and_appends()
    {
        using var dir = new TempDir();
        using (var log = MetricsLog.Create(dir.Path))
        {
            for (int s = 1; s <= 6; s++)
            {
                log.Append(Step(s));
                if (s % 2 == 0) log.Append(Eval(s));
            }
        }
        File.AppendAllText(dir.File("metrics.jsonl"), "{\"type\":\"st"); // killed mid-line

        using (var log = MetricsLog.Resume(dir.Path, resumedStep: 4))
        {
            log.Append(Step(5, loss: 0.25));
        }
        var (steps, evals) = MetricsLog.Read(dir.File("metrics.jsonl"));
        Assert.Equal([1, 2, 3, 4, 5], steps.Select(s => s.Step));
        Assert.Equal(0.25, steps[^1].Loss);
        Assert.Equal([2, 4], evals.Select(e => e.Step));
        Assert.Equal(7, File.ReadAllLines(dir.File("metrics.jsonl")).Length);
    }

    [Fact]
    public void Resume_without_a_log_starts_one_and_create_replaces_one()
    {
        using var dir = new TempDir();
        using (var log = MetricsLog.Resume(dir.Path, 10)) log.Append(Step(11));
        Assert.Single(MetricsLog.Read(dir.File("metrics.jsonl")).Steps);
        using (var log = MetricsLog.Create(dir.Path)) log.Append(Step(1));
        Assert.Equal(1, Assert.Single(MetricsLog.Read(dir.File("metrics.jsonl")).Steps).Step);
    }

    [Fact]
    public void Reading_a_missing_log_is_a_user_error()
    {
        using var dir = new TempDir();
        Assert.Contains("not found", Assert.Throws<PeftException>(() => MetricsLog.Read(dir.File("metrics.jsonl"))).Message);
    }
}
