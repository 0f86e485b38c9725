using System.Text.RegularExpressions;
using PeftSharp.Cli.Commands;
using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// Progress that survives real terminals and logs (issue 11, point 7): the bar's fields fit the terminal by dropping
/// whole fields, the choice of bar or lines depends on stdout alone, and lines are never wrapped.
/// </summary>
[Collection(CliRunner.Collection)]
public class TrainProgressTests
{
    private sealed record FakeStreams(bool StdoutIsTerminal, bool StderrIsTerminal, int Width = 80) : ITerminalStreams;

    private static readonly StepRecord Step = new(Step: 12_345, Epoch: 1, Loss: 0.43219, LearningRate: 3.3e-4, GradNorm: null, Tokens: 1000,
        TokensPerSecond: 12_345.6, ElapsedSeconds: 10);

    [Fact]
    public void A_log_line_has_every_field_in_one_number_style()
    {
        Assert.Equal("step 12,345/20,000  epoch 2  loss 0.4322  lr 3.3e-4  12,346 tok/s", TrainProgress.Line(Step, 20_000));
    }

    [Theory]
    [InlineData(200, "step 12,345/20,000  epoch 2  loss 0.4322  lr 3.3e-4  12,346 tok/s")]
    [InlineData(80, "step 12,345/20,000  loss 0.4322")]
    [InlineData(100, "step 12,345/20,000  loss 0.4322  12,346 tok/s")]
    [InlineData(40, "step 12,345/20,000")]
    public void The_bar_drops_whole_fields_to_fit_the_terminal(int width, string expected)
    {
        var text = ProgressDisplay.BarText(TrainProgress.StepFields(Step, 20_000), width);
        Assert.Equal(expected, text);
        // With the bar, percentage and both clocks, the line fits (the step itself is never dropped or cut).
        if (width >= 80) Assert.True(text.Length + ProgressDisplay.FixedColumns < width, $"{text.Length} + {ProgressDisplay.FixedColumns} >= {width}");
    }

    [Fact]
    public void Fit_keeps_fields_whole_and_in_order()
    {
        (string, int)[] fields = [("aaaa", 0), ("bbbb", 2), ("cccc", 1), ("dddd", 3)];
        Assert.Equal("aaaa  bbbb  cccc  dddd", ProgressDisplay.Fit(fields, 22));
        Assert.Equal("aaaa  bbbb  cccc", ProgressDisplay.Fit(fields, 21));
        Assert.Equal("aaaa  cccc", ProgressDisplay.Fit(fields, 15));
        Assert.Equal("aaaa", ProgressDisplay.Fit(fields, 2));
    }

    [Theory]
    [InlineData(true, true, ProgressMode.Bar)]
    [InlineData(true, false, ProgressMode.Bar)] // 2>warnings.log on a terminal keeps the bar
    [InlineData(false, true, ProgressMode.Lines)] // > train.log: lines, whatever stderr is
    [InlineData(false, false, ProgressMode.Lines)]
    public void The_bar_depends_on_stdout_alone(bool stdout, bool stderr, ProgressMode expected) =>
        Assert.Equal(expected, ProgressDisplay.Choose(new FakeStreams(stdout, stderr)));

    [Fact]
    public void In_process_commands_are_not_a_terminal() => Assert.False(ProcessStreams.Instance.StdoutIsTerminal);

    [Fact]
    public void Lines_off_a_terminal_are_one_unwrapped_line_per_event()
    {
        using var run = new TinyTrainingRun(examples: 32);
        File.AppendAllLines(run.DataFile, ["{\"text\": \"a record without its label\"}"]);
        // A run folder path far longer than 80 columns: Spectre would wrap the lines that name it.
        var output = Path.Combine(run.Root, new string('r', 60), new string('u', 60), "run");
        var (exit, stdout, err) = CliRunner.Run("train", "--model", run.ModelDir, "--data", run.DataFile, "--output", output,
            "--max-steps", "4", "--log-every", "1", "--batch-size", "8", "--max-length", "16", "--learning-rate", "0.0003");
        Assert.True(exit == 0, err + stdout);
        var lines = stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var steps = lines.Where(l => l.StartsWith("step ", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, steps.Count);
        Assert.All(steps, l => Assert.Matches(@"^step \d/4  epoch \d+  loss \d+\.\d{4}  lr (0|\d(\.\d)?e-\d+)  [\d,]+ tok/s$", l));
        Assert.Contains($"report:  {Path.Combine(Path.GetFullPath(output), "report.md")}", lines);
        Assert.Contains(lines, l => l.StartsWith("adapter: ", StringComparison.Ordinal) && l.EndsWith(Path.Combine(Path.GetFullPath(output), "adapter"), StringComparison.Ordinal));
        Assert.Matches(new Regex(@"^finished after 4 steps in [\d,]+ s; trainable [\d,]+ of [\d,]+ parameters", RegexOptions.Multiline), stdout);

        // The report of a real run (issue 11, point 8): which weights the adapter holds, the skipped record, what to run next.
        var report = File.ReadAllText(Path.Combine(output, "report.md"));
        Assert.Matches($@"\| adapter \| `{Regex.Escape(Path.Combine(Path.GetFullPath(output), "adapter"))}` \((the best checkpoint on validation: step \d|the last step, 4)", report);
        Assert.Contains($"- `{run.DataFile}:33`:", report);
        Assert.Contains("## Next steps", report);
        Assert.Contains($"peft predict --model {Path.GetFullPath(run.ModelDir)} --adapter {Path.Combine(Path.GetFullPath(output), "adapter")}", report);
    }
}
