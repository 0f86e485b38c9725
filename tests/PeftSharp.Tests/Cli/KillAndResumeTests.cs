using System.Diagnostics;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// A real `peft train` process killed with SIGKILL at random moments (each time after at least one checkpoint
/// exists), then resumed, must end with exactly the adapter of a run that was never interrupted.
/// </summary>
public class KillAndResumeTests : IDisposable
{
    private readonly TinyTrainingRun _run = new();

    /// <summary>Every child started; one still running when the test ends (a failed wait) is killed, not left to burn CPU.</summary>
    private readonly List<int> _children = [];

    public void Dispose()
    {
        foreach (var id in _children)
        {
            try
            {
                using var p = Process.GetProcessById(id);
                if (!p.HasExited) p.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { /* already gone */ }
        }
        _run.Dispose();
    }

    private string[] Args(string output) =>
    [
        Path.Combine(AppContext.BaseDirectory, "peft.dll"), "train", "--model", _run.ModelDir, "--data", _run.DataFile, "--output", output,
        "--max-steps", "400", "--save-every", "3", "--keep-last", "2", "--batch-size", "4", "--max-length", "16", "--lora-dropout", "0.1",
        "--eval-every", "10", "--seed", "11",
    ];

    /// <summary>Everything the child processes printed, for the failure message.</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private string Output => string.Join("\n", _output.TakeLast(40));

    private Process Start(string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        _children.Add(p.Id);
        p.OutputDataReceived += (_, e) => { if (e.Data != null) _output.Enqueue(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) _output.Enqueue(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static Dictionary<string, TorchSharp.torch.Tensor> Adapter(string runDir)
    {
        using var file = SafetensorsFile.Open(Path.Combine(runDir, "adapter", PeftModel.WeightsFile));
        return file.LoadAll();
    }

    [Fact]
    [Trait("Category", "Slow")] // real processes, 400 steps twice over: minutes
    public void SigkillAtRandomMomentsThenResumeGivesTheUninterruptedAdapter()
    {
        var straight = Path.Combine(_run.Root, "straight");
        using (var p = Start(Args(straight)))
        {
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(10)), "straight run did not finish");
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"straight run exited with {p.ExitCode}:\n{Output}");
        }

        var killed = Path.Combine(_run.Root, "killed");
        var random = new Random(2024);
        var checkpoints = new Checkpoints(killed, 2);
        int kills = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var args = attempt == 0 ? Args(killed) : [.. Args(killed), "--resume"];
            using var p = Start(args);
            var deadline = DateTime.UtcNow.AddMinutes(2);
            int before = checkpoints.List().LastOrDefault().Step;
            while (!p.HasExited && checkpoints.List().LastOrDefault().Step <= before && DateTime.UtcNow < deadline) Thread.Sleep(20);
            Thread.Sleep(random.Next(0, 150)); // anywhere: mid-step, mid-checkpoint, mid-evaluation
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                kills++;
            }
            p.WaitForExit();
        }
        Assert.True(kills >= 2, $"only {kills} of 3 runs were still going when killed");
        using (var p = Start([.. Args(killed), "--resume"]))
        {
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(10)), "resumed run did not finish");
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"resumed run exited with {p.ExitCode}:\n{Output}");
        }

        var a = Adapter(straight);
        var b = Adapter(killed);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys) Assert.True(a[key].equal(b[key]).all().item<bool>(), $"{key} differs after kill and resume");
    }
}
