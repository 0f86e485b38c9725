namespace PeftSharp.IO;

/// <summary>
/// A failed write (full disk, read-only mount, no permission) as the one line a user needs: the path they asked for and
/// the cause in words. .NET's IOException says "No space left on device : '/run/.adapter.1f3e….tmp/x'", naming the
/// temporary file a writer was filling; the writers here catch it and name their final path instead, and the CLI uses
/// <see cref="Describe"/> for any other one. On Unix the exception's HResult is the errno, which gives the cause.
/// </summary>
public static class FileSystemErrors
{
    /// <summary>"cannot write PATH: CAUSE", keeping the original as the inner exception.</summary>
    public static PeftException Writing(string path, Exception e) => new($"cannot write {path}: {Cause(e)}", Root(e) ?? e);

    /// <summary>
    /// Whether <paramref name="e"/> is a failure of the file system itself while writing (a full disk or quota, a
    /// read-only mount, a refused access, an I/O error), directly or as the inner exception of a <see cref="Writing"/>
    /// error. Other IOExceptions (a missing file, a sharing violation, one a caller threw) are not, and pass unchanged.
    /// </summary>
    public static bool IsWriteFailure(Exception e) => Root(e) != null;

    /// <summary>What went wrong, in words: "the disk is full (no space left on device)", "the file system is read-only".</summary>
    public static string Cause(Exception e)
    {
        var root = Root(e) ?? e;
        return root.HResult switch
        {
            28 or unchecked((int)0x80070070) or unchecked((int)0x80070027) => "the disk is full (no space left on device)", // ENOSPC
            122 => "the disk quota is used up (disk quota exceeded)", // EDQUOT
            30 or unchecked((int)0x80070013) => "the file system is read-only",     // EROFS, write-protected
            27 => "the file is larger than the file system allows",   // EFBIG
            13 or 1 or unchecked((int)0x80070005) => "permission denied",           // EACCES, EPERM
            _ when root is UnauthorizedAccessException => "permission denied",
            _ => WithoutPath(root.Message),
        };
    }

    /// <summary>
    /// Any IOException as one line: "PATH: CAUSE" when .NET's message names the path (its "MESSAGE : 'PATH'" form), else
    /// the cause alone.
    /// </summary>
    public static string Describe(Exception e)
    {
        var root = Root(e) ?? e;
        if (root is UnauthorizedAccessException) return root.Message.TrimEnd('.'); // "Access to the path 'P' is denied"
        var message = root.Message;
        int at = message.LastIndexOf(" : '", StringComparison.Ordinal);
        return at > 0 && message.EndsWith('\'') ? $"{message[(at + 4)..^1]}: {Cause(root)}" : Cause(root);
    }

    private static Exception? Root(Exception e) => e switch
    {
        UnauthorizedAccessException => e,
        IOException when Known(e.HResult) => e,
        PeftException { InnerException: { } inner } when inner is UnauthorizedAccessException || inner is IOException && Known(inner.HResult) => inner,
        _ => null,
    };

    /// <summary>
    /// The errors a write meets from the file system: on Unix the HResult is the errno (ENOSPC, EDQUOT, EROFS, EFBIG,
    /// EIO, EACCES, EPERM); on Windows a Win32 HRESULT (disk full, handle disk full, write protected, access denied).
    /// </summary>
    private static bool Known(int hresult) => hresult is 28 or 122 or 30 or 27 or 5 or 13 or 1
        or unchecked((int)0x80070070) or unchecked((int)0x80070027) or unchecked((int)0x80070013) or unchecked((int)0x80070005);

    private static string WithoutPath(string message)
    {
        int at = message.LastIndexOf(" : '", StringComparison.Ordinal);
        var cause = at > 0 && message.EndsWith('\'') ? message[..at] : message;
        return cause.Length > 0 ? char.ToLowerInvariant(cause[0]) + cause[1..] : "unknown error";
    }
}
