using System.Diagnostics;

namespace PeftSharp.Interop;

/// <summary>
/// The reference Python stack of ../shared/refstack (transformers 4.56 + peft 0.18.1 in a chroot) and the two ways
/// this check calls out: Python scripts through its py.sh, and our own `peft` tool, both as child processes whose
/// output goes to a log file so that the console shows only progress and the table.
/// </summary>
internal sealed class Refstack(string repo, string refstackDir, string log)
{
    public string Dir => refstackDir;

    /// <summary>The stack beside the checkout, or null with the reason it cannot be used.</summary>
    public static (Refstack? Stack, string? Problem) Find(string repo, string log)
    {
        var dir = Environment.GetEnvironmentVariable("REFSTACK_DIR") ?? Path.Combine(Path.GetDirectoryName(repo)!, "shared", "refstack");
        if (!File.Exists(Path.Combine(dir, "py.sh")))
            return (null, $"no reference stack scripts at {dir} (set REFSTACK_DIR to the folder holding py.sh)");
        var home = Environment.GetEnvironmentVariable("REFSTACK_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "refstack");
        if (!File.Exists(Path.Combine(home, "trixie", "usr", "bin", "python3")))
            return (null, $"the reference stack is not built ({home}/trixie missing): run `bash {dir}/build.sh` as root (about 3 minutes; {dir}/README.md says which sources it needs)");
        if (Environment.UserName != "root") return (null, "the reference stack runs in a chroot: run this as root");
        return (new Refstack(repo, dir, log), null);
    }

    /// <summary>Runs a script of tools/interop/python in the chroot (its first argument: this folder); throws with the log's tail when it fails.</summary>
    public void Python(string script, params string[] args) =>
        Run("bash", [Path.Combine(refstackDir, "py.sh"), Path.Combine(repo, "tools", "interop", "python", script), refstackDir, .. args], []);

    /// <summary>Runs our `peft` tool (the Release build this check made) as a user would.</summary>
    public void Peft(params string[] args) =>
        Run("dotnet", [Path.Combine(repo, "src", "PeftSharp.Cli", "bin", "Release", "net10.0", "peft.dll"), .. args], []);

    public void Run(string file, IReadOnlyList<string> args, Dictionary<string, string> env)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = repo };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        var text = $"$ {file} {string.Join(' ', args)}\n{stdout.Result}{stderr.Result}\n";
        File.AppendAllText(log, text);
        if (p.ExitCode != 0)
        {
            var tail = string.Join('\n', (stdout.Result + stderr.Result).Split('\n').Where(l => l.Trim().Length > 0).TakeLast(3));
            throw new InteropFailure($"{Path.GetFileName(args.Count > 1 ? args[1] : file)} {string.Join(' ', args.Skip(2).Take(3))} ... exited {p.ExitCode}: {tail}");
        }
    }
}

/// <summary>A step that failed: recorded in the table as that case's error, never hiding the other cases.</summary>
internal sealed class InteropFailure(string message) : Exception(message);
