using System.CommandLine;
using PeftSharp.Cli.Commands;

namespace PeftSharp.Cli;

/// <summary>Entry point of the <c>peft</c> tool: one file per command under Commands/.</summary>
public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    /// <summary>The command tree; tests call it to run commands in-process.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("PeftSharp: parameter-efficient fine-tuning of Hugging Face transformers on .NET.");
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(ForwardCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(MethodsCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(EmbedCommand.Create());
        return root;
    }
}
