using System.Diagnostics;

namespace PeftSharp.Tests.Support;

/// <summary>
/// Real mounts for file-system failure tests: a tiny tmpfs (a disk that fills up) and a read-only one. Root ignores
/// permission bits, so a chmod cannot stand in for a read-only folder; a read-only mount can. Needs Linux and root (or
/// a mount the container allows); tests skip, saying why, where that is not the case. Unmounted on dispose.
/// </summary>
public sealed class Mounts : IDisposable
{
    private readonly List<string> _mounted = [];

    public Mounts()
    {
        Root = Directory.CreateTempSubdirectory("peft-mounts-").FullName;
    }

    public string Root { get; }

    /// <summary>Skips the calling test unless mounts can be made here.</summary>
    public static void SkipUnlessAvailable()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs Linux: the test mounts a tmpfs");
        Skip.IfNot(Environment.IsPrivilegedProcess, "needs root: the test mounts a tmpfs (a full disk, a read-only folder)");
    }

    /// <summary>A tmpfs of <paramref name="bytes"/> at Root/name; <paramref name="fill"/> puts files in before it is made read-only.</summary>
    public string Tmpfs(string name, long bytes, bool readOnly = false, Action<string>? fill = null)
    {
        var dir = Path.Combine(Root, name);
        Directory.CreateDirectory(dir);
        Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", dir);
        _mounted.Add(dir);
        fill?.Invoke(dir);
        if (readOnly) Run("mount", "-o", "remount,ro", dir);
        return dir;
    }

    /// <summary>Every entry under <paramref name="dir"/> (relative paths) with its bytes, to show that nothing changed.</summary>
    public static SortedDictionary<string, string> Snapshot(string dir) => new(
        Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).ToDictionary(
            p => Path.GetRelativePath(dir, p),
            p => File.Exists(p) ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(p))) : "dir"), StringComparer.Ordinal);

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Skip.If(p.ExitCode != 0, $"cannot mount here ({file} {string.Join(' ', args)}: {err.Trim()})");
    }

    public void Dispose()
    {
        for (int i = _mounted.Count - 1; i >= 0; i--)
        {
            using var p = Process.Start(new ProcessStartInfo("umount", ["-l", _mounted[i]]) { UseShellExecute = false, RedirectStandardError = true })!;
            p.WaitForExit();
        }
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { /* a mount still busy: the folder is empty and harmless */ }
    }
}
