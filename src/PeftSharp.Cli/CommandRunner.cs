using System.Text.Json;
using PeftSharp.IO;

namespace PeftSharp.Cli;

/// <summary>
/// Runs a command body and turns a user's mistake, or a file system that refuses a write (a full disk, a read-only
/// folder), into one line on stderr and exit code 2. Anything else is a bug in PeftSharp and keeps its stack trace.
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not a bug in PeftSharp: the file system said no. Writers name their own path ("cannot write ..."); this is
            // every other read or write, in .NET's words without the stack trace.
            Console.Error.WriteLine($"peft: error: {FileSystemErrors.Describe(e)}");
            return UserError;
        }
    }

    private static bool IsUserError(Exception e) => e is PeftException or FileNotFoundException
        or DirectoryNotFoundException or InvalidDataException or JsonException;
}
