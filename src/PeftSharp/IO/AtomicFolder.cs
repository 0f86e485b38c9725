namespace PeftSharp.IO;

/// <summary>
/// The one way PeftSharp writes, replaces and deletes a folder (adapters, checkpoints, model folders), so that a
/// crash at any moment leaves under the final name either the complete old folder or the complete new one, never
/// a half-written one (something else would load it as if complete) and never nothing.
/// <para>
/// Protocol, for target <c>dir/name</c>: fill a temporary sibling <c>.name.&lt;guid&gt;.tmp</c>; fsync its files
/// and folders; rename the existing target aside to <c>.name.&lt;guid&gt;.old</c>; rename the temporary folder to
/// the target; fsync <c>dir</c>; rename the aside copy to <c>.name.&lt;guid&gt;.del</c> and delete it. Deleting
/// the old folder in place first would leave, between the two steps, nothing at all under the name.
/// </para>
/// <para>
/// A crash between the two renames leaves the target missing and its aside copy present. An <c>.old</c> folder is
/// always complete (it appears only by renaming a whole target, and is renamed to <c>.del</c> before deletion
/// starts), so <see cref="Recover"/>, which readers call before they look, renames it back. <c>.tmp</c> and
/// <c>.del</c> leftovers are never read and are removed by the next write of that name (or
/// <see cref="RemoveLeftovers"/>). One writer per target at a time; readers may run alongside it.
/// </para>
/// </summary>
public static class AtomicFolder
{
    private const string Temp = "tmp", Aside = "old", Doomed = "del";

    /// <summary>
    /// For tests only (public: InternalsVisibleTo would also expose internal types whose names clash in the tests):
    /// called with the name of each step just before it runs ("fill", "sync", "aside", "replace", "sync-parent",
    /// "delete-old"), so a test can fail or kill a write at that step. It belongs to the async flow that sets it
    /// (AsyncLocal), so writes made by tests running in parallel never see it; leave it null in normal use.
    /// </summary>
    public static Action<string>? StepHook { get => Hook.Value; set => Hook.Value = value; }

    private static readonly AsyncLocal<Action<string>?> Hook = new();

    /// <summary>
    /// Refuses an output folder that exists and holds anything, so a command checks it before any work and a new
    /// folder (a merged model, a combined adapter) never replaces one the user has.
    /// </summary>
    public static void RequireEmpty(string target)
    {
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            throw new PeftException($"{target}: folder exists and is not empty");
    }

    /// <summary>
    /// Calls <paramref name="fill"/> with an empty temporary folder next to <paramref name="target"/>, then puts it
    /// in place by the protocol above. An existing target is an error unless <paramref name="overwrite"/>. If
    /// anything throws, the temporary folder is deleted and the target is left as it was; a failure of the file system
    /// (a full disk, a read-only mount) is reported as "cannot write TARGET: CAUSE", naming the folder asked for
    /// rather than the temporary file that was being filled.
    /// </summary>
    public static void Write(string target, Action<string> fill, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(fill);
        var full = Normalize(target);
        try
        {
            WriteProtocol(full, fill, overwrite);
        }
        catch (Exception e) when (FileSystemErrors.IsWriteFailure(e))
        {
            throw FileSystemErrors.Writing(full, e);
        }
    }

    private static void WriteProtocol(string full, Action<string> fill, bool overwrite)
    {
        var parent = Path.GetDirectoryName(full) ?? throw new PeftException($"{full}: cannot write a folder at the root");
        Directory.CreateDirectory(parent);
        Recover(full);
        if (File.Exists(full)) throw new PeftException($"{full}: is a file, not a folder");
        if (Directory.Exists(full) && !overwrite) throw new PeftException($"{full}: already exists (use --force to replace it)");
        RemoveLeftovers(parent, Path.GetFileName(full));
        var temp = Sibling(full, Temp);
        Directory.CreateDirectory(temp);
        string? aside = null;
        try
        {
            Step("fill");
            fill(temp);
            Step("sync");
            DiskSync.Tree(temp);
            for (int attempt = 0; ; attempt++)
            {
                if (Directory.Exists(full))
                {
                    Step("aside");
                    aside = Sibling(full, Aside);
                    Directory.Move(full, aside);
                }
                Step("replace");
                try { Directory.Move(temp, full); break; }
                // A reader's Recover saw the target missing and put the aside copy back meanwhile: set it aside again.
                catch (IOException) when (attempt < 3 && Directory.Exists(full) && Directory.Exists(temp)) { }
            }
            Step("sync-parent");
            DiskSync.Sync(parent);
        }
        catch
        {
            if (aside != null && !Directory.Exists(full)) TryRun(() => Directory.Move(aside, full));
            TryRun(() => Directory.Delete(temp, recursive: true));
            throw;
        }
        if (aside != null)
        {
            Step("delete-old");
            TryRun(() => Discard(aside, full));
        }
    }

    /// <summary>
    /// Deletes a folder without ever leaving a partly deleted one under its name: it is renamed to a
    /// <c>.del</c> sibling first (the name disappears at once), then deleted. Stale aside copies go first, or
    /// <see cref="Recover"/> would bring an older version back. Nothing happens if the folder is missing.
    /// </summary>
    public static void Delete(string target)
    {
        var full = Normalize(target);
        if (!Directory.Exists(full)) return;
        foreach (var stale in Siblings(Path.GetDirectoryName(full)!, Path.GetFileName(full), Aside).ToList()) Discard(stale, full);
        Discard(full, full);
    }

    /// <summary>Renames <paramref name="dir"/> to a <c>.del</c> sibling of <paramref name="target"/>, then deletes it.</summary>
    private static void Discard(string dir, string target)
    {
        var doomed = Sibling(target, Doomed);
        Directory.Move(dir, doomed);
        TryRun(() => Directory.Delete(doomed, recursive: true));
    }

    /// <summary>
    /// Readers call this before they look at <paramref name="target"/>: if it is missing because a write crashed
    /// between its two renames, the complete aside copy is renamed back. Otherwise it changes nothing. Best
    /// effort: a folder it cannot list or rename in is left for the reader to report as missing.
    /// </summary>
    public static void Recover(string target)
    {
        var full = Normalize(target);
        if (Directory.Exists(full) || File.Exists(full)) return;
        var parent = Path.GetDirectoryName(full);
        if (parent == null || !Directory.Exists(parent)) return;
        // Several aside copies cannot arise from the protocol (every write recovers first); if they do, any is complete.
        TryRun(() =>
        {
            var aside = Siblings(parent, Path.GetFileName(full), Aside).Order(StringComparer.Ordinal).FirstOrDefault();
            if (aside != null) Directory.Move(aside, full); // fails harmlessly if a concurrent reader or writer won
        });
    }

    /// <summary>
    /// <see cref="Recover"/> for every folder in <paramref name="parent"/> that has an aside copy (readers that
    /// list a folder, like checkpoint discovery, call this before listing).
    /// </summary>
    public static void RecoverAll(string parent)
    {
        var names = new List<string?>();
        TryRun(() => names.AddRange(Siblings(parent, null, Aside).Select(TargetName).Distinct()));
        foreach (var name in names)
            if (name != null) Recover(Path.Combine(parent, name));
    }

    /// <summary>
    /// Deletes what crashed writes left in <paramref name="parent"/>: temporary and half-deleted folders, and aside
    /// copies whose target exists again. Only for <paramref name="name"/> if given, else for every name.
    /// </summary>
    public static void RemoveLeftovers(string parent, string? name = null)
    {
        if (!Directory.Exists(parent)) return;
        foreach (var dir in Siblings(parent, name, Temp).Concat(Siblings(parent, name, Doomed)).ToList())
            TryRun(() => Directory.Delete(dir, recursive: true));
        foreach (var dir in Siblings(parent, name, Aside).ToList())
            if (TargetName(dir) is { } target && Directory.Exists(Path.Combine(parent, target))) TryRun(() => Discard(dir, Path.Combine(parent, target)));
    }

    private static void Step(string name) => StepHook?.Invoke(name);

    private static string Normalize(string target) =>
        Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));

    private static string Sibling(string full, string kind) =>
        Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.{kind}");

    /// <summary>Folders named <c>.name.&lt;32 hex&gt;.kind</c> (any name if null).</summary>
    private static IEnumerable<string> Siblings(string parent, string? name, string kind) =>
        Directory.EnumerateDirectories(parent, name == null ? $".*.{kind}" : $".{name}.*.{kind}")
            .Where(d => TargetName(d) is { } n && (name == null || n == name) && d.EndsWith("." + kind, StringComparison.Ordinal));

    /// <summary>The target a temporary, aside or deleted folder belongs to, or null if the name is not ours.</summary>
    private static string? TargetName(string dir)
    {
        var file = Path.GetFileName(dir);
        int kindDot = file.LastIndexOf('.');
        int guidDot = kindDot - 33;
        if (file.Length < 2 || file[0] != '.' || guidDot < 2 || file[guidDot] != '.') return null;
        return file.AsSpan(guidDot + 1, 32).ContainsAnyExcept("0123456789abcdef") ? null : file[1..guidDot];
    }

    private static void TryRun(Action action)
    {
        try { action(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* best effort: leftovers are hidden dot-folders, removed later */ }
    }
}
