using PeftSharp.Native;
using TorchSharp;

namespace PeftSharp.Tests;

public class TorchSharpLoadsTests
{
    [Fact]
    public void NativeLibraryLoadsAndComputes()
    {
        TorchSharpNative.EnsureLoadable();
        using var t = torch.arange(4, dtype: torch.float32);
        Assert.Equal(6f, t.sum().item<float>());
    }

    [Fact]
    public void ProblemVersionIsWeakOrSystemHasIt()
    {
        var lib = Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).First();
        var need = ElfVersionTable.Read(lib).Needed.FirstOrDefault(n => n.Version == TorchSharpNative.ProblemVersion);
        var libstdcxx = TorchSharpNative.LoadedLibStdCxx()!;
        bool systemHasIt = ElfVersionTable.Read(libstdcxx).Defined.Contains(TorchSharpNative.ProblemVersion);
        // Either the system is new enough (and we must not have touched anything), or the need is weak now.
        Assert.True(systemHasIt || need == null || need.IsWeak, TorchSharpNative.Outcome);
    }

    /// <summary>
    /// Compares with the unpatched library in the NuGet package cache, so it needs that cache: a machine that restored
    /// elsewhere (or cleared it) reports this test as skipped rather than passing without comparing anything.
    /// </summary>
    [SkippableFact]
    public void WeakeningChangesOnlyTheFlagsOfThatNeed()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom ? custom
            : Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/root", ".nuget", "packages");
        var original = Path.Combine(packages, "torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so");
        Skip.IfNot(File.Exists(original), $"the unpatched TorchSharp library is not in the NuGet package cache ({original} is missing)");
        var bytes = File.ReadAllBytes(original);
        var table = ElfVersionTable.Parse(bytes, original);
        var need = Assert.Single(table.Needed, n => n.Version == TorchSharpNative.ProblemVersion);
        Assert.False(need.IsWeak);
        var patched = table.WithWeakNeed(TorchSharpNative.ProblemVersion);
        var diff = Enumerable.Range(0, bytes.Length).Where(i => bytes[i] != patched[i]).ToArray();
        Assert.True(diff.Length == 1 && diff[0] == need.FlagsOffset, $"changed bytes at {string.Join(",", diff)}");
        Assert.True(ElfVersionTable.Parse(patched, "patched").Needed.Single(n => n.Version == TorchSharpNative.ProblemVersion).IsWeak);
    }

    [Fact]
    public void GarbageIsRejectedWithTheFileName()
    {
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionTable.Parse(new byte[10], "junk.so"));
        Assert.Contains("junk.so", e.Message);
    }
}
