using System.CommandLine;
using System.CommandLine.Help;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// Help and messages are for people (issue 11, point 6): every option says its default, peft train --help ends with
/// examples, a mistyped flag is one line with a suggestion (exit 2), and messages name files and option keys, not
/// library types or properties.
/// </summary>
[Collection(CliRunner.Collection)]
public class HelpAndMessagesTests
{
    [Fact]
    public void Every_option_of_every_command_shows_its_default_in_help()
    {
        var root = PeftSharp.Cli.Program.BuildRoot();
        // Shown by help: the description, and System.CommandLine's [default: x] for a value option that has a default
        // (a switch's implicit false is not shown, so its description must say it).
        var missing = Commands(root).SelectMany(c => c.Options.Select(o => (Command: c, Option: o)))
            .Where(x => x.Option is not (HelpOption or VersionOption) && !x.Option.Required)
            .Where(x => !(x.Option.Description ?? "").Contains("default", StringComparison.OrdinalIgnoreCase)
                && (x.Option.ValueType == typeof(bool) || !x.Option.HasDefaultValue))
            .Select(x => $"{x.Command.Name} {x.Option.Name}")
            .ToList();
        Assert.Empty(missing);
        var (exit, stdout, _) = CliRunner.Run("eval", "--help");
        Assert.Equal(0, exit);
        Assert.Matches(@"--adapter <adapter> +Adapter folder to evaluate with \[default: none\]", stdout);
        Assert.Matches(@"--json +Print the metrics as JSON \[default: off\]", stdout);
        Assert.Matches(@"--batch-size <batch-size> +Batch size \[default: 32\]", stdout);
    }

    [Fact]
    public void Train_help_shows_defaults_in_one_number_style_and_ends_with_three_examples()
    {
        var (exit, stdout, _) = CliRunner.Run("train", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("Peak learning rate; greater than 0; default 2e-4", stdout);
        Assert.Contains("default 1e-8", stdout);
        Assert.Contains("A finished adapter folder to continue training (iterative fine-tuning); default none", stdout);
        Assert.Contains("Continue from the newest checkpoint in the output folder; default off", stdout);
        var examples = stdout[stdout.IndexOf("Examples:", StringComparison.Ordinal)..];
        var commands = examples.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("peft train ", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, commands.Count);
        Assert.Contains("instructions.jsonl", commands[1]);
        Assert.Contains("--from-adapter", commands[2]);
        Assert.Equal("", examples[examples.LastIndexOf("peft train", StringComparison.Ordinal)..].Split('\n', 2)[1].Trim());
    }

    [Fact]
    public void An_unknown_flag_is_one_line_with_a_suggestion_and_exit_2()
    {
        var (exit, stdout, err) = CliRunner.Run("train", "--lerning-rate", "3e-4");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal("peft: error: unknown option --lerning-rate; did you mean --learning-rate? (see peft train --help)", err.Trim());

        (exit, _, err) = CliRunner.Run("eval", "--modle", "m", "--data", "d.jsonl");
        Assert.Equal(2, exit);
        Assert.Equal("peft: error: unknown option --modle; did you mean --model? (see peft eval --help)", err.Trim());

        (exit, _, err) = CliRunner.Run("evl");
        Assert.Equal(2, exit);
        Assert.Equal("peft: error: unknown command evl; did you mean eval? (see peft --help)", err.Trim());

        (exit, _, err) = CliRunner.Run("eval", "--data", "d.jsonl");
        Assert.Equal(2, exit);
        Assert.Equal("peft: error: option '--model' is required (see peft eval --help)", err.Trim());
    }

    [Fact]
    public void A_missing_model_folder_is_called_the_model_folder()
    {
        using var run = new TinyTrainingRun(examples: 8);
        var missing = Path.Combine(run.Root, "no-such-model");
        var (exit, _, err) = CliRunner.Run("train", "--model", missing, "--data", run.DataFile, "--task", "classification", "--output", Path.Combine(run.Root, "out"));
        Assert.Equal(2, exit);
        Assert.Equal($"peft: error: {missing}: the model folder does not exist", err.Trim().Split('\n')[^1]);
        (exit, _, err) = CliRunner.Run("eval", "--model", missing, "--data", run.DataFile, "--task", "classification");
        Assert.Equal(2, exit);
        Assert.EndsWith($"{missing}: the model folder does not exist", err.Trim());
    }

    [Fact]
    public void An_empty_data_file_says_it_is_empty()
    {
        using var run = new TinyTrainingRun(examples: 8);
        var empty = Path.Combine(run.Root, "empty.jsonl");
        File.WriteAllText(empty, "\n");
        var (exit, _, err) = CliRunner.Run("train", "--model", run.ModelDir, "--data", empty, "--task", "classification", "--output", Path.Combine(run.Root, "out"));
        Assert.Equal(2, exit);
        Assert.Contains($"{empty}: the data file is empty", err);
    }

    [Fact]
    public void The_split_line_counts_the_records_kept_after_skipping()
    {
        using var run = new TinyTrainingRun(examples: 40);
        // Two records without a label are skipped while tokenizing, after the split; the line must not count them.
        File.AppendAllLines(run.DataFile, ["{\"text\": \"no label here\"}", "{\"text\": \"nor here\"}"]);
        var (exit, stdout, err) = CliRunner.Run("train", "--model", run.ModelDir, "--data", run.DataFile, "--output", Path.Combine(run.Root, "out"),
            "--max-steps", "1", "--batch-size", "8", "--max-length", "16", "--validation-fraction", "0.25");
        Assert.True(exit == 0, err + stdout);
        var line = stdout.Split('\n').Single(l => l.Contains("data: ", StringComparison.Ordinal));
        var numbers = System.Text.RegularExpressions.Regex.Match(line, @"(\d+) train, (\d+) validation");
        Assert.Equal(40, int.Parse(numbers.Groups[1].Value) + int.Parse(numbers.Groups[2].Value));
    }

    [Fact]
    public void Messages_name_option_keys_not_library_properties()
    {
        var root = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src");
        var offenders = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => x.line.Contains("PeftException(", StringComparison.Ordinal))
            // The message's own words: its string literals after the constructor, interpolated values left out.
            .Select(x => (x.f, x.i, line: string.Concat(System.Text.RegularExpressions.Regex.Matches(
                System.Text.RegularExpressions.Regex.Replace(x.line[x.line.IndexOf("PeftException(", StringComparison.Ordinal)..], @"\{[^{}]*\}", ""), "\"[^\"]*\"")
                .Select(m => m.Value))))
            .Where(x => System.Text.RegularExpressions.Regex.IsMatch(x.line, @"\b(MaxLength|AddEos|PadTokenId|PadToMaxLength|PadToMultipleOf|MalformedRecordPolicy|SkipMalformed|TrainData|ValidationData)\b|policy to Skip"))
            .Select(x => $"{Path.GetFileName(x.f)}:{x.i + 1}: {x.line}")
            .ToList();
        Assert.Empty(offenders);
    }

    private static IEnumerable<Command> Commands(Command command) => command.Subcommands.SelectMany(Commands).Prepend(command);
}
