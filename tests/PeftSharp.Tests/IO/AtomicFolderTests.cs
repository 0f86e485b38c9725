using PeftSharp.IO;
using static PeftSharp.Tests.IO.FolderVersions;

namespace PeftSharp.Tests.IO;

/// <summary>
/// A folder replaced by <see cref="AtomicFolder"/> must, after a failure at any step and the reader's recovery,
/// be readable under its name with all of the old content or all of the new, and the next write must succeed and
/// leave nothing else behind. A crash is simulated by copying the parent folder at the moment of failure (what a
/// killed process leaves on disk: no catch block runs); the live folder shows the in-process error path.
/// </summary>
public class AtomicFolderTests
{
    public static TheoryData<string> StepNames() => new(Steps);

    public static TheoryData<string> WriteStepNames() => new(WriteSteps);

    private static void AssertOnly(string parent, string name) =>
        Assert.Equal([name], Directory.EnumerateFileSystemEntries(parent).Select(Path.GetFileName));

    [Theory]
    [MemberData(nameof(StepNames))]
    public void AFailureAtAnyStepLeavesTheOldOrTheNewFolderAndTheNextWriteCleansUp(string step)
    {
        using var tmp = new TempDir();
        var live = Path.Combine(tmp.Path, "live");
        var image = Path.Combine(tmp.Path, "crash");
        var target = Path.Combine(live, "adapter");
        AtomicFolder.Write(target, dir => Fill(dir, "old"), overwrite: false);

        void Crash(string at)
        {
            if (at != step) return;
            CopyTree(live, image);
            throw new IOException($"injected failure before {at}");
        }
        AtomicFolder.StepHook = Crash;
        try { Assert.Throws<IOException>(() => AtomicFolder.Write(target, dir => Fill(dir, "new", () => Crash("mid-fill")), overwrite: true)); }
        finally { AtomicFolder.StepHook = null; }

        var expected = NewAfterCrashAt(step) ? "new" : "old";
        var crashed = Path.Combine(image, "adapter");
        // Between the two renames nothing is under the name: exactly the case the reader's recovery exists for.
        Assert.Equal(step != "replace", Directory.Exists(crashed));
        AtomicFolder.Recover(crashed);
        Assert.Equal(expected, Version(crashed));
        AtomicFolder.Recover(target);
        Assert.Equal(expected, Version(target));

        foreach (var parent in new[] { live, image })
        {
            AtomicFolder.Write(Path.Combine(parent, "adapter"), dir => Fill(dir, "newer"), overwrite: true);
            Assert.Equal("newer", Version(Path.Combine(parent, "adapter")));
            AssertOnly(parent, "adapter");
        }
    }

    [Theory]
    [MemberData(nameof(StepNames))]
    public void AFailedFirstWriteLeavesNothingUnderTheNameOrTheCompleteFolder(string step)
    {
        using var tmp = new TempDir();
        var target = tmp.File("adapter");
        void Crash(string at) { if (at == step) throw new IOException("injected"); }
        AtomicFolder.StepHook = Crash;
        try
        {
            if (step is "aside" or "delete-old") AtomicFolder.Write(target, dir => Fill(dir, "new"), overwrite: false); // no old folder: these steps never run
            else Assert.Throws<IOException>(() => AtomicFolder.Write(target, dir => Fill(dir, "new", () => Crash("mid-fill")), overwrite: false));
        }
        finally { AtomicFolder.StepHook = null; }

        if (NewAfterCrashAt(step) || step is "aside" or "delete-old") Assert.Equal("new", Version(target));
        else Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
    }

    [Fact]
    public void AReaderThatRestoresTheAsideCopyMidWriteDoesNotBreakTheWrite()
    {
        using var tmp = new TempDir();
        var target = tmp.File("adapter");
        AtomicFolder.Write(target, dir => Fill(dir, "old"), overwrite: false);
        int replaces = 0;
        // Another process's reader, between the writer's two renames: the target is missing, so it puts the old copy back.
        AtomicFolder.StepHook = at =>
        {
            if (at != "replace" || replaces++ > 0) return;
            Assert.False(Directory.Exists(target));
            AtomicFolder.Recover(target);
            Assert.Equal("old", Version(target));
        };
        try { AtomicFolder.Write(target, dir => Fill(dir, "new"), overwrite: true); }
        finally { AtomicFolder.StepHook = null; }
        Assert.Equal(2, replaces); // the writer set the restored copy aside again and retried
        Assert.Equal("new", Version(target));
        AssertOnly(tmp.Path, "adapter");
    }

    [Fact]
    public void LeftoversAreNeverReadAndTheNextWriteRemovesThem()
    {
        using var tmp = new TempDir();
        var target = tmp.File("adapter");
        AtomicFolder.Write(target, dir => Fill(dir, "current"), overwrite: false);
        string Leftover(string kind, string version)
        {
            var dir = tmp.File($".adapter.{Guid.NewGuid():N}.{kind}");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "adapter_config.json"), version); // partial, as a crash leaves it
            return dir;
        }
        Leftover("tmp", "half-written");
        Leftover("del", "half-deleted");
        Leftover("old", "stale");
        var otherName = tmp.File("other");
        Directory.CreateDirectory(otherName);
        var unrelated = tmp.File(".adapter.not-ours.tmp");
        Directory.CreateDirectory(unrelated);

        AtomicFolder.Recover(target);
        Assert.Equal("current", Version(target));
        AtomicFolder.RecoverAll(tmp.Path);
        Assert.Equal("current", Version(target));

        AtomicFolder.Write(target, dir => Fill(dir, "next"), overwrite: true);
        Assert.Equal("next", Version(target));
        Assert.Equal([".adapter.not-ours.tmp", "adapter", "other"],
            Directory.EnumerateFileSystemEntries(tmp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void DeleteTakesStaleAsideCopiesWithItAndRecoverNeverUsesATemporaryFolder()
    {
        using var tmp = new TempDir();
        var target = tmp.File("step-3");
        AtomicFolder.Write(target, dir => Fill(dir, "v2"), overwrite: false);
        var stale = tmp.File($".step-3.{Guid.NewGuid():N}.old"); // a rewrite crashed before deleting its aside copy
        Directory.CreateDirectory(stale);
        Fill(stale, "v1");
        AtomicFolder.Delete(target);
        AtomicFolder.Recover(target); // a pruned checkpoint must not come back from its stale aside copy
        Assert.False(Directory.Exists(target));
        AtomicFolder.Delete(target); // missing: nothing to do
        Directory.CreateDirectory(tmp.File($".step-3.{Guid.NewGuid():N}.tmp"));
        AtomicFolder.Recover(target);
        Assert.False(Directory.Exists(target));
        AtomicFolder.RemoveLeftovers(tmp.Path);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
    }
}
