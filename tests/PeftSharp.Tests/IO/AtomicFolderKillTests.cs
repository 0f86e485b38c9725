using System.Diagnostics;
using PeftSharp.IO;

namespace PeftSharp.Tests.IO;

/// <summary>
/// A real process killed (SIGKILL) just before each step of replacing a folder: nothing in it gets to clean up,
/// so the disk is exactly what a crash leaves. The reader's recovery must then find the complete old or new
/// folder under the name, and the next write must succeed and leave nothing else. The child is the `peft` tool
/// with this test assembly as a .NET startup hook (<see cref="global::StartupHook"/>), which does the write and
/// stops at the step until it is killed.
/// </summary>
public class AtomicFolderKillTests
{
    [Fact]
    public void KilledBeforeAnyStepTheFolderIsOldOrNewAndTheNextWriteCleansUp()
    {
        using var tmp = new TempDir();
        string Target(string step) => Path.Combine(tmp.File(step), "adapter");
        foreach (var step in FolderVersions.WriteSteps) AtomicFolder.Write(Target(step), dir => FolderVersions.Fill(dir, "old"), overwrite: false);
        // One child per step, all started at once: process start-up dominates, and the machine may be busy.
        var children = FolderVersions.WriteSteps.Select(step => (Step: step, Process: Start(step, Target(step)))).ToList();
        var problems = children.Select(c => KillWhenStopped(c.Step, c.Process)).ToList(); // all of them, whatever happens
        Assert.All(problems, Assert.Null);

        foreach (var step in FolderVersions.WriteSteps)
        {
            var target = Target(step);
            Assert.Equal(step != "replace", Directory.Exists(target));
            AtomicFolder.Recover(target);
            Assert.Equal(FolderVersions.NewAfterCrashAt(step) ? "new" : "old", FolderVersions.Version(target));
            AtomicFolder.Write(target, dir => FolderVersions.Fill(dir, "newer"), overwrite: true);
            Assert.Equal("newer", FolderVersions.Version(target));
            Assert.Equal(["adapter"], Directory.EnumerateFileSystemEntries(tmp.File(step)).Select(Path.GetFileName));
        }
    }

    private static Process Start(string step, string target)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "peft.dll"));
        psi.Environment["DOTNET_STARTUP_HOOKS"] = typeof(AtomicFolderKillTests).Assembly.Location;
        psi.Environment[StartupHook.StepVariable] = step;
        psi.Environment[StartupHook.TargetVariable] = target;
        return Process.Start(psi)!;
    }

    /// <summary>Waits until the child stops before <paramref name="step"/>, then kills it; kills it in any case. Returns what went wrong, if anything.</summary>
    private static string? KillWhenStopped(string step, Process child)
    {
        using var p = child;
        try
        {
            var line = p.StandardOutput.ReadLineAsync();
            if (line.Wait(TimeSpan.FromSeconds(60)) && line.Result == StartupHook.Stopped + step) return null;
            return $"child did not stop before {step}: {(line.IsCompleted ? line.Result : "(nothing yet)")}";
        }
        finally
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
    }
}
