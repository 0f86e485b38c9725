using System.CommandLine;
using PeftSharp.Cli.Commands;

namespace PeftSharp.Cli;

/// <summary>Entry point of the <c>peft</c> tool: one file per command under Commands/.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        Terminal.ProcessStdout = Console.Out;
        return Run(args);
    }

    /// <summary>
    /// Parses and runs a command line; one the parser cannot read is one line on stderr and exit 2 (see
    /// <see cref="ParseErrors"/>). With no arguments at all, the parser's own answer: the tool's help.
    /// </summary>
    public static int Run(string[] args)
    {
        var result = BuildRoot().Parse(args);
        if (args.Length > 0 && ParseErrors.Failed(result)) return ParseErrors.Report(result, Console.Error);
        return result.Invoke();
    }

    /// <summary>The command tree; tests call it to run commands in-process.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("PeftSharp: parameter-efficient fine-tuning of Hugging Face transformers on .NET.");
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(ForwardCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(CombineCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(MethodsCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(SelectCommand.Create());
        root.Subcommands.Add(PseudoLabelCommand.Create());
        root.Subcommands.Add(AnalyzeCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(EmbedCommand.Create());
        root.Subcommands.Add(PretrainCommand.Create());
        HelpText.Apply(root);
        return root;
    }
}
