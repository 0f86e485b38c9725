using System.CommandLine;
using System.Globalization;
using PeftSharp.Options;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft train</c>: a config file (YAML or JSON) and flags that override it, one flag per training option;
/// with no arguments, the bundled MiniLM sentiment run. Progress on the terminal, everything else in the run folder.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c") { Description = "Training config file (.yaml, .yml or .json); flags override its values" };
        var cmd = new Command("train", "Train an adapter; with no arguments, LoRA on the bundled all-MiniLM-L6-v2 for sentence sentiment") { config };
        var flags = new SchemaFlags();
        // Every option of the schema, core and methods', is a flag.
        foreach (var spec in TrainingSchema.All)
            flags.Add(cmd, spec, spec.Method is { } method ? $"[{method}] {spec.HelpLine}" : null);
        HelpText.SetExamples(cmd, Examples);
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(config), flags.Given(r).ToDictionary(f => f.Spec.Flag, f => f.Value))));
        return cmd;
    }

    /// <summary>The three journeys `peft train --help` ends with: the task is inferred from the data in each.</summary>
    public static readonly IReadOnlyList<(string What, string Command)> Examples =
    [
        ("classify texts (a CSV or JSON lines file with text and label)",
            "peft train --model models/all-MiniLM-L6-v2 --data reviews.csv --epochs 3 --output runs/reviews"),
        ("instruction tuning (JSON lines with prompt and completion, or chat messages)",
            "peft train --model models/gpt2 --data instructions.jsonl --max-steps 500 --output runs/instruct"),
        ("continue a finished adapter on new data",
            "peft train --model models/all-MiniLM-L6-v2 --from-adapter runs/reviews/adapter --data more-reviews.csv --output runs/reviews-2"),
    ];

    private static int Run(string? configPath, Dictionary<string, string> flags)
    {
        TrainingOptions options;
        if (configPath != null) options = TrainConfigFile.Load(configPath);
        else if (!flags.ContainsKey("model") && !flags.ContainsKey("train-data")) options = DefaultRun.Options(DefaultRun.EnsureModel(m => Console.Error.WriteLine(m)));
        else options = new TrainingOptions();
        options = TrainConfigFile.ApplyOverrides(options, flags);
        if (string.IsNullOrEmpty(options.Output))
            options = options with { Output = Path.Combine("runs", Path.GetFileName(Path.TrimEndingDirectorySeparator(options.Model)) + "-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)) };

        using var interrupt = new TrainInterrupt();
        var summary = TrainProgress.Run(options, interrupt);
        if (summary.AlreadyFinished)
        {
            Console.WriteLine($"{summary.OutputDir}: {summary.StopReason}");
            return 0;
        }
        TrainProgress.PrintSummary(summary, options, ResumeCommand(configPath, flags, options.Output));
        if (summary.Interrupted || interrupt.Requested) return TrainInterrupt.ExitCode;
        return summary.StopReason.StartsWith("stopped", StringComparison.Ordinal) ? 1 : 0;
    }

    /// <summary>
    /// The command that continues this run, ready to paste: the same config file and flags, the run folder named (a
    /// default one has a timestamp in its name) and --resume.
    /// </summary>
    public static string ResumeCommand(string? configPath, IReadOnlyDictionary<string, string> flags, string output)
    {
        var parts = new List<string> { "peft", "train" };
        if (configPath != null) parts.AddRange(["--config", configPath]);
        foreach (var (flag, value) in flags)
        {
            if (flag is "resume" or "output") continue;
            bool isSwitch = TrainingSchema.All.FirstOrDefault(s => s.Flag == flag)?.Kind == OptionKind.Bool;
            if (isSwitch && value == "true") parts.Add("--" + flag);
            else parts.AddRange(["--" + flag, value]);
        }
        parts.AddRange(["--output", output, "--resume"]);
        return string.Join(' ', parts.Select(NextSteps.Quote));
    }

}
