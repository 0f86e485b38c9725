using PeftSharp.IO;

namespace PeftSharp.Tests.IO;

/// <summary>
/// Folders whose every file names one version, the steps of an <see cref="AtomicFolder"/> write,
/// and what a crash before each must leave: shared by the atomic-write tests and the killed child process
/// (so nothing here may need xunit at run time except <see cref="Version"/>).
/// </summary>
public static class FolderVersions
{
    /// <summary>Every step a replacing write goes through, in order (the names <see cref="AtomicFolder.StepHook"/> sees).</summary>
    public static readonly string[] WriteSteps = ["fill", "sync", "aside", "replace", "sync-parent", "delete-old"];

    /// <summary><see cref="WriteSteps"/> plus a point halfway through filling, for writers whose fill a test controls.</summary>
    public static readonly string[] Steps = ["fill", "mid-fill", .. WriteSteps[1..]];

    /// <summary>True if a crash just before <paramref name="step"/> must leave the new content.</summary>
    public static bool NewAfterCrashAt(string step) => step is "sync-parent" or "delete-old";

    /// <summary>Three files whose content all names one version, so a mix of two versions cannot pass as either.</summary>
    public static void Fill(string dir, string version, Action? halfway = null)
    {
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), version);
        halfway?.Invoke();
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.WriteAllText(Path.Combine(dir, "sub", "weights"), version + new string('x', 10_000));
        File.WriteAllText(Path.Combine(dir, "z"), version);
    }

    /// <summary>The version a complete folder holds; fails if the folder is missing, partial or mixed.</summary>
    public static string Version(string dir)
    {
        Assert.True(Directory.Exists(dir), $"{dir} is missing");
        var version = File.ReadAllText(Path.Combine(dir, "adapter_config.json"));
        Assert.Equal(version + new string('x', 10_000), File.ReadAllText(Path.Combine(dir, "sub", "weights")));
        Assert.Equal(version, File.ReadAllText(Path.Combine(dir, "z")));
        Assert.Equal(3, Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Length);
        return version;
    }

    public static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in Directory.GetDirectories(from)) CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
