using Spectre.Console;

namespace PeftSharp.Cli;

/// <summary>
/// A Spectre console bound to the current Console.Out. AnsiConsole's static instance captures the writer
/// it first sees; commands build their own so that redirected output (tests, pipes) gets everything.
/// </summary>
public static class Terminal
{
    /// <summary>The process's own stdout as Main found it; null when commands run in-process (tests), which never draw a bar.</summary>
    public static TextWriter? ProcessStdout { get; set; }

    public static IAnsiConsole Out() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });

    /// <summary>
    /// The console training progress writes to, interactive exactly when <paramref name="mode"/> is a bar (Spectre's own
    /// detection also looks at the other streams, so a redirected stderr would turn the bar off). Lines are never
    /// wrapped: Spectre would break them at 80 columns, in the middle of a path or a command to paste.
    /// </summary>
    public static IAnsiConsole ForProgress(Commands.ProgressMode mode, int width)
    {
        bool bar = mode == Commands.ProgressMode.Bar;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Out),
            Interactive = bar ? InteractionSupport.Yes : InteractionSupport.No,
            Ansi = bar ? AnsiSupport.Yes : AnsiSupport.No,
        });
        console.Profile.Width = bar ? width : 100_000;
        return console;
    }

    public static IAnsiConsole Error() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
}
