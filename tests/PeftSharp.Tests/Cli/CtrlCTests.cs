using System.Collections.Concurrent;
using System.Diagnostics;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// Ctrl-C on a real `peft train` process (SIGINT, as a terminal sends it): the first stops cleanly with a checkpoint,
/// a partial adapter and the command that resumes, exit 130, and that command finishes the run; the second aborts at once.
/// </summary>
public sealed class CtrlCTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();
    private readonly List<Process> _children = [];
    private readonly ConcurrentQueue<string> _lines = new();

    public void Dispose()
    {
        foreach (var p in _children)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { /* already gone */ }
            p.Dispose();
        }
        _run.Dispose();
    }

    private static string PeftDll => Path.Combine(AppContext.BaseDirectory, "peft.dll");

    private string Output => string.Join("\n", _lines);

    private Process Start(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        _children.Add(p);
        p.OutputDataReceived += (_, e) => { if (e.Data != null) _lines.Enqueue(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) _lines.Enqueue(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>
    /// A process started in the background by a non-interactive shell (`cmd &amp;`, nohup) has SIGINT ignored, and its
    /// children inherit that: Ctrl-C cannot reach them, so there is nothing to test (this is not a failure of peft).
    /// </summary>
    private static void SkipWhenSigintIsIgnored()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        Skip.If(line != null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << 1)) != 0, // bit of signal 2
            "SIGINT is ignored in this process (started in the background by a shell), so its children cannot receive Ctrl-C");
    }

    private Process Train(string output, params string[] more) => Start(Environment.ProcessPath!,
        [PeftDll, "train", "--model", _run.ModelDir, "--data", _run.DataFile, "--output", output, "--max-length", "16", "--seed", "3", .. more]);

    private void WaitFor(Process p, Func<string, bool> line, string what)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!_lines.Any(line))
        {
            Assert.False(p.HasExited, $"the run ended before {what}:\n{Output}");
            Assert.True(DateTime.UtcNow < deadline, $"no {what} within 2 minutes:\n{Output}");
            Thread.Sleep(10);
        }
    }

    private static void Interrupt(Process p)
    {
        using var kill = Process.Start("kill", ["-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    [SkippableFact]
    [Trait("Category", "Slow")] // two real processes, the second training to the end: over ten seconds
    public void TheFirstCtrlCWritesACheckpointAndAPartialAdapterAndPrintsTheResumeCommand()
    {
        SkipWhenSigintIsIgnored();
        var output = Path.Combine(_run.Root, "interrupted");
        using var p = Train(output, "--max-steps", "40", "--save-every", "20", "--eval-every", "20", "--batch-size", "4", "--log-every", "1");
        WaitFor(p, l => l.StartsWith("step 5/", StringComparison.Ordinal), "fifth step");
        Interrupt(p);
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(1)), $"no exit within a minute of Ctrl-C:\n{Output}");
        p.WaitForExit();
        Assert.True(p.ExitCode == 130, $"exit {p.ExitCode}:\n{Output}");

        var text = Output;
        Assert.Contains("stopping after this step", text);
        var checkpoint = new Checkpoints(output, 2).List().LastOrDefault();
        Assert.True(checkpoint.Step >= 5, text);
        Assert.Contains($"interrupted after {checkpoint.Step} of 40 steps", text);
        Assert.Contains($"partial adapter (interrupted at step {checkpoint.Step} of 40): {Path.Combine(output, "adapter")}", text);
        Assert.DoesNotContain("\nadapter:", "\n" + text);
        Assert.Contains($"checkpoint: {checkpoint.Dir}", text);
        Assert.Contains("partial", File.ReadAllText(Path.Combine(output, RunReport.FileName)));

        // The printed command, run as printed (peft being this build's peft.dll), finishes the run.
        var resume = _lines.Single(l => l.StartsWith("to resume: ", StringComparison.Ordinal))["to resume: ".Length..];
        Assert.StartsWith("peft train ", resume);
        Assert.EndsWith("--resume", resume);
        using var again = Start("sh", ["-c", $"'{Environment.ProcessPath}' '{PeftDll}' {resume["peft ".Length..]}"]);
        Assert.True(again.WaitForExit(TimeSpan.FromMinutes(5)), $"the resumed run did not finish:\n{Output}");
        again.WaitForExit();
        Assert.True(again.ExitCode == 0, $"resumed run exited {again.ExitCode}:\n{Output}");
        Assert.Contains($"resumed from {checkpoint.Dir}", Output);
        Assert.Contains($"adapter: {Path.Combine(output, "adapter")}", Output);
        Assert.Equal(40, TrainerState.Read(Path.Combine(output, Checkpoints.StateFile)).Step);
    }

    [SkippableFact]
    public void ASecondCtrlCAbortsAtOnce()
    {
        SkipWhenSigintIsIgnored();
        // One optimizer step over 20,000 micro-batches takes a minute or more: a clean stop would wait for it.
        var output = Path.Combine(_run.Root, "aborted");
        using var p = Train(output, "--max-steps", "2", "--batch-size", "1", "--gradient-accumulation", "20000");
        WaitFor(p, l => l.StartsWith("eval at step 0", StringComparison.Ordinal), "evaluation before training");
        Interrupt(p);
        WaitFor(p, l => l.StartsWith("stopping after this step", StringComparison.Ordinal), "acknowledgement of the first Ctrl-C");
        var clock = Stopwatch.StartNew();
        Interrupt(p);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(20)), $"still running 20 s after the second Ctrl-C:\n{Output}");
        p.WaitForExit();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed.TotalSeconds:F1} s to abort");
        Assert.True(p.ExitCode == 130, $"exit {p.ExitCode}:\n{Output}");
        Assert.Contains("peft: aborted", Output);
        Assert.DoesNotContain(_lines, l => l.StartsWith("step 1/", StringComparison.Ordinal)); // it did not wait for the step
    }
}
