namespace PeftSharp.Cli.Commands;

/// <summary>Which of the process's streams are terminals, and how wide; an interface so tests can be any terminal.</summary>
public interface ITerminalStreams
{
    bool StdoutIsTerminal { get; }
    bool StderrIsTerminal { get; }
    /// <summary>Columns of the terminal stdout writes to (meaningless when it is not one).</summary>
    int Width { get; }
}

/// <summary>How training progress is shown.</summary>
public enum ProgressMode
{
    /// <summary>A live bar redrawn in place (an interactive terminal).</summary>
    Bar,
    /// <summary>One plain line per event, never wrapped (logs, pipes, CI).</summary>
    Lines,
}

/// <summary>
/// The process's real streams. Only stdout decides: the bar is drawn there, so a redirected stderr (<c>2&gt;warnings.log</c>)
/// keeps it. A command run in-process with Console.Out replaced (tests, a host program) is never a terminal: the
/// process's own stdout is the one <see cref="Program.Main"/> saw.
/// </summary>
public sealed class ProcessStreams : ITerminalStreams
{
    public static readonly ProcessStreams Instance = new();

    public bool StdoutIsTerminal => Terminal.ProcessStdout is { } stdout && ReferenceEquals(Console.Out, stdout) && !Console.IsOutputRedirected
        && Environment.GetEnvironmentVariable("TERM") != "dumb";

    public bool StderrIsTerminal => !Console.IsErrorRedirected;

    public int Width
    {
        get
        {
            try
            {
                return Console.WindowWidth > 0 ? Console.WindowWidth : 80;
            }
            catch (IOException)
            {
                return 80;
            }
        }
    }
}

/// <summary>The choices of the training display, each a pure function of what it is given so that it can be tested.</summary>
public static class ProgressDisplay
{
    /// <summary>A bar when stdout is an interactive terminal, whatever stderr is; lines otherwise.</summary>
    public static ProgressMode Choose(ITerminalStreams streams) => streams.StdoutIsTerminal ? ProgressMode.Bar : ProgressMode.Lines;

    /// <summary>Columns the bar's other parts take: the bar itself, percentage, elapsed and remaining time, and the gaps between them.</summary>
    public const int BarWidth = 20;
    public const int FixedColumns = BarWidth + 4 + 8 + 8 + 4;

    /// <summary>
    /// The fields that fit in <paramref name="width"/> columns, two spaces apart, in their given order. Fields are whole or
    /// absent (a number is never cut or wrapped); when they do not all fit, the least important go first
    /// (<paramref name="fields"/>' priorities: 0 always stays, higher numbers are dropped earlier).
    /// </summary>
    public static string Fit(IReadOnlyList<(string Text, int Priority)> fields, int width)
    {
        var kept = fields.ToList();
        while (kept.Count > 1 && Length(kept) > width)
        {
            var drop = kept.Where(f => f.Priority > 0).OrderByDescending(f => f.Priority).Select(f => (int?)kept.IndexOf(f)).FirstOrDefault();
            if (drop is not { } index) break;
            kept.RemoveAt(index);
        }
        return string.Join("  ", kept.Select(f => f.Text));
    }

    /// <summary>The description of the bar on a terminal <paramref name="terminalWidth"/> columns wide.</summary>
    public static string BarText(IReadOnlyList<(string Text, int Priority)> fields, int terminalWidth) =>
        Fit(fields, Math.Max(1, terminalWidth - FixedColumns - 1));

    private static int Length(List<(string Text, int Priority)> fields) => fields.Sum(f => f.Text.Length) + 2 * (fields.Count - 1);
}
