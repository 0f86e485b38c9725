namespace PeftSharp.IO;

/// <summary>
/// Writes a file under a temporary name and renames it into place, so a crash never leaves half a file. A failure
/// (a full disk, a read-only folder) leaves the old file as it was, removes the temporary one and is reported as
/// "cannot write PATH: CAUSE" (<see cref="FileSystemErrors"/>).
/// </summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text) => Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, leaveOpen: true);
        writer.Write(text);
    });

    /// <summary>A JSON document, indented, with a final newline: how PeftSharp's own JSON files are written.</summary>
    public static void WriteJson(string path, System.Text.Json.Nodes.JsonNode json) =>
        WriteAllText(path, json.ToJsonString(Indented) + "\n");

    private static readonly System.Text.Json.JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    private static void Write(string path, Action<Stream> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (FileSystemErrors.IsWriteFailure(e))
        {
            throw FileSystemErrors.Writing(Path.GetFullPath(path), e);
        }
        finally
        {
            try { if (File.Exists(temp)) File.Delete(temp); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* best effort: the write's own error is the one to report */ }
        }
    }
}
