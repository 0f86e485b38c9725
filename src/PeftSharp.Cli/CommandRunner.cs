using System.Text.Json;

namespace PeftSharp.Cli;

/// <summary>
/// Runs a command body and turns a user's mistake into one line on stderr and exit code 2.
/// Anything else is a bug in PeftSharp and keeps its stack trace.
/// </summary>
public static class CommandRunner
{
    public const int UserError = 2;

    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"peft: error: {e.Message}");
            return UserError;
        }
    }

    private static bool IsUserError(Exception e) => e is PeftException or FileNotFoundException
        or DirectoryNotFoundException or InvalidDataException or JsonException or UnauthorizedAccessException;
}
