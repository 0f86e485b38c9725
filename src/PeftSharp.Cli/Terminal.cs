using Spectre.Console;

namespace PeftSharp.Cli;

/// <summary>
/// A Spectre console bound to the current Console.Out. AnsiConsole's static instance captures the writer
/// it first sees; commands build their own so that redirected output (tests, pipes) gets everything.
/// </summary>
public static class Terminal
{
    public static IAnsiConsole Out() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });

    public static IAnsiConsole Error() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
}
