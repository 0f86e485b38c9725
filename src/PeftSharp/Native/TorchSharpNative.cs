using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PeftSharp.Native;

/// <summary>
/// Makes TorchSharp's native library loadable on systems whose libstdc++ is older than the one
/// it was linked against (Debian 12 has GLIBCXX_3.4.30; libLibTorchSharp.so asks for 3.4.32 for a
/// single symbol no relocation uses). Where the process's libstdc++ lacks the version, the need is
/// marked weak: in place when the file is writable, otherwise in a per-user cache copy that a
/// DllImport resolver hands to TorchSharp. Where libstdc++ is new enough nothing is touched.
/// Set PEFTSHARP_NATIVE_PATCH=copy to never modify the package's file, =off to disable.
/// Runs automatically when PeftSharp loads; calling <see cref="EnsureLoadable"/> again is free.
/// </summary>
public static class TorchSharpNative
{
    /// <summary>The one version need that breaks loading on older systems.</summary>
    public const string ProblemVersion = "GLIBCXX_3.4.32";
    private const string LibraryFile = "libLibTorchSharp.so";

    private static readonly object Gate = new();
    private static string? _outcome;

    /// <summary>What the last call did, for diagnostics and tests.</summary>
    public static string Outcome => _outcome ?? "not run";

#pragma warning disable CA2255 // a module initializer is the point: users must not have to call anything
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        try { EnsureLoadable(); }
        catch (Exception e) { _outcome = "failed: " + e.Message; }
    }

    /// <summary>Applies the fix if and only if it is needed. Safe to call many times.</summary>
    public static string EnsureLoadable()
    {
        lock (Gate)
        {
            if (_outcome != null && !_outcome.StartsWith("failed", StringComparison.Ordinal)) return _outcome;
            _outcome = Apply();
            return _outcome;
        }
    }

    private static string Apply()
    {
        if (!OperatingSystem.IsLinux()) return "not linux: nothing to do";
        var library = FindTorchSharpLibrary();
        if (library == null) return "libLibTorchSharp.so not found: nothing to do";
        var elf = ElfVersionTable.Read(library);
        var need = elf.Needed.FirstOrDefault(n => n.Version == ProblemVersion);
        if (need == null || need.IsWeak) return $"{library}: no strong {ProblemVersion} need";
        var libstdcxx = LoadedLibStdCxx();
        if (libstdcxx != null && ElfVersionTable.Read(libstdcxx).Defined.Contains(ProblemVersion))
            return $"{libstdcxx} defines {ProblemVersion}: nothing to do";

        var patched = elf.WithWeakNeed(ProblemVersion);
        var mode = Environment.GetEnvironmentVariable("PEFTSHARP_NATIVE_PATCH");
        if (mode == "off") return "PEFTSHARP_NATIVE_PATCH=off: left as is";
        if (mode != "copy" && TryReplaceInPlace(library, patched)) return $"{library}: marked {ProblemVersion} weak in place";

        var cached = WriteCachedCopy(library, patched);
        RegisterResolver(library, cached);
        return $"{library}: using patched copy {cached}";
    }

    private static string? FindTorchSharpLibrary()
    {
        var dirs = new List<string> { AppContext.BaseDirectory };
        var torchDir = Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location);
        if (!string.IsNullOrEmpty(torchDir)) dirs.Add(torchDir);
        foreach (var dir in dirs.Distinct())
        {
            foreach (var candidate in new[] { Path.Combine(dir, LibraryFile), Path.Combine(dir, "runtimes", "linux-x64", "native", LibraryFile) })
                if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>The libstdc++ the process uses (the .NET host loads it), else the one the loader would pick.</summary>
    public static string? LoadedLibStdCxx()
    {
        string? FromMaps() => File.ReadLines("/proc/self/maps")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length >= 6 && Path.GetFileName(p[5]).StartsWith("libstdc++.so", StringComparison.Ordinal))
            .Select(p => p[5]).FirstOrDefault();
        var found = FromMaps();
        if (found != null) return found;
        if (NativeLibrary.TryLoad("libstdc++.so.6", out _)) return FromMaps();
        return null;
    }

    private static bool TryReplaceInPlace(string library, byte[] patched)
    {
        var temp = library + ".peftsharp-" + Environment.ProcessId + ".tmp";
        try
        {
            File.WriteAllBytes(temp, patched);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, File.GetUnixFileMode(library));
            File.Move(temp, library, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            try { File.Delete(temp); } catch (Exception) { /* best effort */ }
            return false;
        }
    }

    private static string WriteCachedCopy(string library, byte[] patched)
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(root)) root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(patched))[..16];
        var dir = Path.Combine(root, "peftsharp", "native", hash);
        Directory.CreateDirectory(dir);
        var target = Path.Combine(dir, LibraryFile);
        if (!File.Exists(target))
        {
            var temp = target + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(temp, patched);
            File.Move(temp, target, overwrite: true);
        }
        return target;
    }

    /// <summary>Loads libtorch from its own folder first, so the copy's $ORIGIN runpath is not needed.</summary>
    private static void RegisterResolver(string original, string cached)
    {
        var dir = Path.GetDirectoryName(original)!;
        foreach (var dep in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            var p = Path.Combine(dir, dep);
            if (File.Exists(p)) NativeLibrary.Load(p);
        }
        var handle = NativeLibrary.Load(cached);
        NativeLibrary.SetDllImportResolver(typeof(TorchSharp.torch).Assembly, (name, _, _) =>
            name is "LibTorchSharp" or LibraryFile ? handle : IntPtr.Zero);
    }
}
