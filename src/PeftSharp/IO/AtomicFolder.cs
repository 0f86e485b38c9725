namespace PeftSharp.IO;

/// <summary>
/// Creates a folder by filling a temporary sibling and renaming it into place, so a failed or interrupted write
/// never leaves a half-written model folder under the final name (something else would load it as if complete).
/// </summary>
public static class AtomicFolder
{
    /// <summary>
    /// Calls <paramref name="fill"/> with an empty temporary folder next to <paramref name="target"/>, then renames it
    /// to <paramref name="target"/>. An existing target is an error unless <paramref name="overwrite"/>; then it is
    /// replaced only after the new folder is complete.
    /// </summary>
    public static void Write(string target, Action<string> fill, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(target);
        var full = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(full)) throw new PeftException($"{full}: is a file, not a folder");
        if (Directory.Exists(full) && !overwrite) throw new PeftException($"{full}: already exists (use --force to replace it)");
        var parent = Path.GetDirectoryName(full) ?? throw new PeftException($"{full}: cannot write a model folder at the root");
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        string? old = null;
        try
        {
            fill(temp);
            if (Directory.Exists(full))
            {
                old = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.old");
                Directory.Move(full, old);
            }
            Directory.Move(temp, full);
        }
        catch
        {
            if (old != null && !Directory.Exists(full)) TryRun(() => Directory.Move(old, full));
            TryRun(() => Directory.Delete(temp, recursive: true));
            throw;
        }
        if (old != null) TryRun(() => Directory.Delete(old, recursive: true));
    }

    private static void TryRun(Action action)
    {
        try { action(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* best effort: leftovers are hidden dot-folders */ }
    }
}
