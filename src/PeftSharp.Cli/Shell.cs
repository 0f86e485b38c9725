namespace PeftSharp.Cli;

/// <summary>Paths in commands the tool prints for the user to paste into a POSIX shell.</summary>
public static class Shell
{
    /// <summary>The text as is when it has only safe characters, else in single quotes (a quote inside written as '\'').</summary>
    public static string Quote(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or '+' or ':' or '@' or '=' or ',')
            ? text
            : "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
