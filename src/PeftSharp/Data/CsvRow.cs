namespace PeftSharp.Data;

/// <summary>
/// One CSV record: its fields, the physical line it starts on (quoted newlines make records span lines), and what was
/// wrong with it if anything, so the caller decides whether a broken row is skipped or fatal.
/// </summary>
public sealed record CsvRow(IReadOnlyList<string> Fields, long Line, string? Error = null);
