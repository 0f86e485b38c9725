using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.CompilerServices;

namespace PeftSharp.Cli;

/// <summary>
/// What <c>--help</c> adds to System.CommandLine's text: every option says its default (an option with no default value
/// says "none", a switch "off", unless its description already says what unset means), and a command may end its help
/// with examples to paste.
/// </summary>
public static class HelpText
{
    // Weak: tests build a command tree per run.
    private static readonly ConditionalWeakTable<Command, IReadOnlyList<(string What, string Command)>> ExamplesOf = [];

    /// <summary>Examples shown at the end of a command's help.</summary>
    public static void SetExamples(Command command, IReadOnlyList<(string What, string Command)> examples) => ExamplesOf.AddOrUpdate(command, examples);

    /// <summary>Applies both to every command of the tree; called once the tree is built.</summary>
    public static void Apply(RootCommand root)
    {
        foreach (var command in Commands(root))
            foreach (var option in command.Options)
            {
                if (option is HelpOption help && help.Action is SynchronousCommandLineAction inner) help.Action = new WithExamples(inner);
                if (option is HelpOption or VersionOption || option.Required) continue;
                var description = option.Description ?? "";
                if (description.Contains("default", StringComparison.OrdinalIgnoreCase)) continue;
                // A switch's implicit default (false) is not shown by System.CommandLine; a value option's given one is.
                if (option.ValueType == typeof(bool)) option.Description = description + " [default: off]";
                else if (!option.HasDefaultValue) option.Description = description + " [default: none]";
            }
    }

    private static IEnumerable<Command> Commands(Command command) => command.Subcommands.SelectMany(Commands).Prepend(command);

    /// <summary>System.CommandLine's help, then the command's examples.</summary>
    private sealed class WithExamples(SynchronousCommandLineAction inner) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            int code = inner.Invoke(parseResult);
            if (ExamplesOf.TryGetValue(parseResult.CommandResult.Command, out var examples))
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (var (what, line) in examples)
                {
                    output.WriteLine($"  {what}:");
                    output.WriteLine($"    {line}");
                }
                output.WriteLine();
            }
            return code;
        }
    }
}
