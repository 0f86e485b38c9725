using System.Runtime.InteropServices;

namespace PeftSharp.IO;

/// <summary>
/// fsync for files and folders. A rename is only durable once the folder holding it is synced, and .NET
/// cannot open a folder (File.OpenHandle refuses), so on Linux this calls libc's open/fsync/close directly.
/// Elsewhere, or when the call fails (a file system without fsync on folders), it does nothing: syncing
/// narrows the window in which a power cut can lose a write, and the write is still correct without it.
/// </summary>
internal static partial class DiskSync
{
    private const int ReadOnly = 0, CloseOnExec = 0x80000; // O_RDONLY, O_CLOEXEC (same on x64 and arm64)

    /// <summary>Syncs every file and folder under <paramref name="dir"/>, then <paramref name="dir"/> itself.</summary>
    public static void Tree(string dir)
    {
        if (!OperatingSystem.IsLinux()) return;
        foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)) Sync(file);
        foreach (var sub in Directory.EnumerateDirectories(dir, "*", SearchOption.AllDirectories)) Sync(sub);
        Sync(dir);
    }

    /// <summary>Syncs one file or folder (best effort).</summary>
    public static void Sync(string path)
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            int fd = Open(path, ReadOnly | CloseOnExec);
            if (fd < 0) return;
            _ = Fsync(fd);
            _ = Close(fd);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* no usable libc: skip */ }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
