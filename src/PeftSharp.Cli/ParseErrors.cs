using PeftSharp.IO;
using System.CommandLine;
using System.CommandLine.Invocation;

namespace PeftSharp.Cli;

/// <summary>
/// A command line the parser cannot read gets one line, as every other user error does (exit 2): the first problem,
/// for an unknown option the nearest real one ("did you mean --learning-rate?"), and where the full list is. The
/// parser's own answer, the errors followed by the whole help text, buries the one word that was wrong.
/// </summary>
public static class ParseErrors
{
    /// <summary>The message for a parse result with errors.</summary>
    public static string Message(ParseResult result)
    {
        var command = result.CommandResult.Command;
        string help = $"see {CommandPath(command)} --help";
        var unknown = result.UnmatchedTokens.FirstOrDefault(t => t.StartsWith('-'));
        if (unknown != null)
        {
            var name = unknown.Split('=', 2)[0];
            var guess = Nearest(name, command);
            return $"unknown option {name}" + (guess != null ? $"; did you mean {guess}?" : "") + $" ({help})";
        }
        var word = result.UnmatchedTokens.FirstOrDefault();
        if (word != null && command.Subcommands.Count > 0)
        {
            var guess = command.Subcommands.Select(c => c.Name).Where(n => EditDistance.WithSwaps(word, n) <= Math.Max(1, word.Length / 3)).FirstOrDefault();
            return $"unknown command {word}" + (guess != null ? $"; did you mean {guess}?" : "") + $" ({help})";
        }
        if (word != null) return $"unexpected argument {word} ({help})";
        var text = result.Errors[0].Message.TrimEnd('.');
        return $"{char.ToLowerInvariant(text[0])}{text[1..]} ({help})";
    }

    /// <summary>Reports the errors on stderr and returns the exit code of a user error.</summary>
    public static int Report(ParseResult result, TextWriter error)
    {
        error.WriteLine($"peft: error: {Message(result)}");
        return CommandRunner.UserError;
    }

    /// <summary>Whether the parser would answer with its error action (errors, and no --help or other action that clears them).</summary>
    public static bool Failed(ParseResult result) => result.Errors.Count > 0 && result.Action is ParseErrorAction;

    /// <summary>The option of the command (or its parents' recursive ones) closest in spelling, if close enough to be a typo.</summary>
    public static string? Nearest(string token, Command command)
    {
        var names = Names(command).Where(n => n.StartsWith("--", StringComparison.Ordinal) == token.StartsWith("--", StringComparison.Ordinal));
        var best = names.Select(n => (Name: n, Distance: EditDistance.WithSwaps(token, n))).OrderBy(p => p.Distance).ThenBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault();
        if (best.Name is null) return null;
        // A typo changes a few letters; a different word is not a suggestion.
        int allowed = Math.Max(1, token.TrimStart('-').Length / 3);
        if (best.Distance <= allowed) return best.Name;
        // A prefix of a long option (--learning for --learning-rate) is also what the user meant.
        var prefixed = names.Where(n => n.StartsWith(token, StringComparison.Ordinal)).ToList();
        return token.Length > 3 && prefixed.Count == 1 ? prefixed[0] : null;
    }

    private static IEnumerable<string> Names(Command command)
    {
        foreach (var option in command.Options)
        {
            if (option.Hidden) continue;
            yield return option.Name;
            foreach (var alias in option.Aliases) yield return alias;
        }
        foreach (var parent in command.Parents.OfType<Command>())
            foreach (var option in parent.Options.Where(o => o.Recursive && !o.Hidden))
            {
                yield return option.Name;
                foreach (var alias in option.Aliases) yield return alias;
            }
    }

    private static string CommandPath(Command command)
    {
        var parts = new List<string>();
        for (Command? c = command; c != null; c = c.Parents.OfType<Command>().FirstOrDefault())
            parts.Insert(0, c is RootCommand ? "peft" : c.Name);
        return string.Join(' ', parts);
    }
}
