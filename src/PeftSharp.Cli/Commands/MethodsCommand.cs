using System.CommandLine;
using PeftSharp.Training;
using PeftSharp.Tuners;
using Spectre.Console;

namespace PeftSharp.Cli.Commands;

/// <summary><c>peft methods</c>: every method the registry knows, what it does, whether it trains here and merges, and which options it reads.</summary>
public static class MethodsCommand
{
    public static Command Create()
    {
        var cmd = new Command("methods", "List the adapter methods: what each trains, whether peft train can train it, whether it merges, its options");
        cmd.SetAction(_ => CommandRunner.Run(Run));
        return cmd;
    }

    private static int Run()
    {
        var console = Terminal.Out();
        foreach (var tuner in TunerRegistry.All)
        {
            var d = tuner.Description;
            var shared = Enum.GetValues<SharedInputs>().Where(f => f != SharedInputs.None && d.Uses.HasFlag(f)).Select(SharedOption);
            var options = shared.Concat(d.Options.Select(o => o.Key)).Select(k => "--" + k.Replace('_', '-'));
            console.MarkupLine($"[bold]{Markup.Escape(d.Name)}[/] ({Markup.Escape(d.Title)}, peft_type {d.PeftType}): {Markup.Escape(d.Summary)}");
            console.MarkupLine(Markup.Escape($"    {(d.Trains ? "trains with peft train --method " + d.Name : "loads, runs and saves; training not implemented")}; "
                + $"{(d.Mergeable ? "merges" : "cannot merge")}; options: {string.Join(" ", options)}"));
        }
        console.MarkupLine(Markup.Escape($"Baselines, not adapters: --method {TrainingMethods.Full} (every parameter), --method {TrainingMethods.Head} (only the task head)."));
        return 0;
    }

    private static string SharedOption(SharedInputs input) => TrainingSchema.Of(input switch
    {
        SharedInputs.Rank => nameof(TrainingOptions.Rank),
        SharedInputs.Alpha => nameof(TrainingOptions.Alpha),
        SharedInputs.Dropout => nameof(TrainingOptions.Dropout),
        _ => nameof(TrainingOptions.TargetModules),
    }).Key;
}
