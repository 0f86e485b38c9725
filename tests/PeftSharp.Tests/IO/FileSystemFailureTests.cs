using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using TorchSharp;

namespace PeftSharp.Tests.IO;

/// <summary>
/// A full disk and a read-only folder, on real mounts: every write fails with one line naming the path asked for and
/// the cause, leaves what was on disk as it was, and removes its temporary files. The commands say it in one line,
/// exit 2, with no stack trace.
/// </summary>
[Collection(CliRunner.Collection)]
public sealed class FileSystemFailureTests : IDisposable
{
    private readonly Mounts _mounts = new();

    public void Dispose() => _mounts.Dispose();

    private static torch.Tensor Big() => torch.ones(100_000); // 400 KB: more than the tiny disks hold

    [SkippableFact]
    public void SafetensorsOnAFullDiskKeepsTheOldFileAndRemovesTheTemporaryOne()
    {
        Mounts.SkipUnlessAvailable();
        var disk = _mounts.Tmpfs("full", 64 * 1024);
        var path = Path.Combine(disk, "model.safetensors");
        using (var small = torch.arange(4, dtype: torch.ScalarType.Float32)) SafetensorsWriter.Write(path, [new("old", small)]);
        var before = Mounts.Snapshot(disk);

        using var big = Big();
        var e = Assert.Throws<PeftException>(() => SafetensorsWriter.Write(path, [new("new", big)]));
        Assert.Equal($"cannot write {path}: the disk is full (no space left on device)", e.Message);
        Assert.Equal(before, Mounts.Snapshot(disk));
    }

    [SkippableFact]
    public void AFolderWriteOnAFullDiskKeepsTheOldFolderAndLeavesNothingElse()
    {
        Mounts.SkipUnlessAvailable();
        var disk = _mounts.Tmpfs("full", 64 * 1024);
        var target = Path.Combine(disk, "adapter");
        AtomicFolder.Write(target, dir => File.WriteAllText(Path.Combine(dir, "version.txt"), "old"), overwrite: false);
        var before = Mounts.Snapshot(disk);

        using var big = Big();
        var e = Assert.Throws<PeftException>(() => AtomicFolder.Write(target, dir =>
        {
            AtomicFile.WriteAllText(Path.Combine(dir, "version.txt"), "new");
            SafetensorsWriter.Write(Path.Combine(dir, "adapter_model.safetensors"), [new("w", big)]);
        }, overwrite: true));
        Assert.Equal($"cannot write {target}: the disk is full (no space left on device)", e.Message);
        Assert.Equal(before, Mounts.Snapshot(disk));
    }

    [SkippableFact]
    public void AFileOnAReadOnlyMountIsLeftAsItWas()
    {
        Mounts.SkipUnlessAvailable();
        var disk = _mounts.Tmpfs("ro", 64 * 1024, readOnly: true, fill: d => File.WriteAllText(Path.Combine(d, "config.yaml"), "old"));
        var path = Path.Combine(disk, "config.yaml");
        var e = Assert.Throws<PeftException>(() => AtomicFile.WriteAllText(path, "new"));
        Assert.Equal($"cannot write {path}: the file system is read-only", e.Message);
        Assert.Equal("old", File.ReadAllText(path));
    }

    /// <summary>One "peft: error:" line on stderr naming <paramref name="path"/> and the cause, no stack trace, exit 2.</summary>
    private static void AssertOneLine(int exit, string err, string path, string cause)
    {
        Assert.True(exit == 2, $"exit {exit}: {err}");
        var errors = err.Split('\n').Where(l => l.StartsWith("peft: error:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, err);
        Assert.Contains(path, errors[0]);
        Assert.Contains(cause, errors[0]);
        Assert.DoesNotContain("   at ", err);
        Assert.DoesNotContain("Unhandled", err);
    }

    [SkippableFact]
    public void ForwardIntoAReadOnlyFolderIsOneLine()
    {
        Mounts.SkipUnlessAvailable();
        var disk = _mounts.Tmpfs("ro", 64 * 1024, readOnly: true);
        var outPath = Path.Combine(disk, "out.safetensors");
        var (exit, _, err) = CliRunner.Run("forward", "--model", Fixtures.Model("llama"), "--inputs", Fixtures.Inputs("llama"), "--out", outPath);
        AssertOneLine(exit, err, outPath, "read-only");
        Assert.Empty(Directory.EnumerateFileSystemEntries(disk));
    }

    [SkippableFact]
    public void MergeOntoAFullDiskIsOneLineAndLeavesNothingBehind()
    {
        Mounts.SkipUnlessAvailable();
        var disk = _mounts.Tmpfs("full", 64 * 1024, fill: d => File.WriteAllText(Path.Combine(d, "keep.txt"), "mine"));
        var before = Mounts.Snapshot(disk);
        var outDir = Path.Combine(disk, "merged");
        var adapter = Path.Combine(Fixtures.Model("llama"), "adapters", "lora");
        var (exit, _, err) = CliRunner.Run("merge", "--model", Fixtures.Model("llama"), "--adapter", adapter, "--out", outDir);
        AssertOneLine(exit, err, outDir, "the disk is full");
        Assert.Equal(before, Mounts.Snapshot(disk));
    }

    private static string[] Train(TinyTrainingRun run, string output) =>
        ["train", "--model", run.ModelDir, "--data", run.DataFile, "--output", output, "--max-steps", "4", "--save-every", "2",
         "--batch-size", "8", "--max-length", "16"];

    [SkippableFact]
    public void TrainIntoAReadOnlyFolderIsOneLineAndChangesNothing()
    {
        Mounts.SkipUnlessAvailable();
        using var run = new TinyTrainingRun(32);
        var disk = _mounts.Tmpfs("ro", 64 * 1024, readOnly: true, fill: d => File.WriteAllText(Path.Combine(d, "keep.txt"), "mine"));
        var before = Mounts.Snapshot(disk);
        var output = Path.Combine(disk, "run");
        var (exit, _, err) = CliRunner.Run(Train(run, output));
        AssertOneLine(exit, err, output, "read-only");
        Assert.Equal(before, Mounts.Snapshot(disk));
    }

    [SkippableFact]
    public void TrainOntoAFullDiskIsOneLineAndLeavesNoTemporaryFiles()
    {
        Mounts.SkipUnlessAvailable();
        using var run = new TinyTrainingRun(32);
        var disk = _mounts.Tmpfs("full", 48 * 1024, fill: d => File.WriteAllText(Path.Combine(d, "keep.txt"), "mine"));
        var output = Path.Combine(disk, "run");
        var (exit, _, err) = CliRunner.Run(Train(run, output));
        AssertOneLine(exit, err, output, "the disk is full");
        Assert.Equal("mine", File.ReadAllText(Path.Combine(disk, "keep.txt")));
        var leftovers = Directory.EnumerateFileSystemEntries(disk, "*", SearchOption.AllDirectories)
            .Where(p => Path.GetFileName(p).EndsWith(".tmp", StringComparison.Ordinal)).ToList();
        Assert.True(leftovers.Count == 0, string.Join(", ", leftovers));
        // The run could not write its first checkpoint, so the folder it created holds nothing to resume: it is gone.
        Assert.False(Directory.Exists(output), string.Join(", ", Directory.Exists(output) ? Directory.EnumerateFileSystemEntries(output, "*", SearchOption.AllDirectories) : []));
    }
}
