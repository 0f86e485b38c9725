using System.Text.Json;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

[Collection(CliRunner.Collection)]
public class GenerateCommandTests
{
    private static (long[] Prompt, long[] Expected) Reference(string fixture, string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Model(fixture), file)));
        return (doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
            doc.RootElement.GetProperty("new_token_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray());
    }

    [Theory]
    [InlineData("gpt2", "generate_base.json", null)]
    [InlineData("llama", "generate_base.json", null)]
    [InlineData("gpt2", "generate_lora.json", "lora")]
    [InlineData("llama", "generate_lora.json", "lora")]
    public void GreedyIdsMatchTransformers(string fixture, string file, string? adapter)
    {
        var (prompt, expected) = Reference(fixture, file);
        var args = new List<string> { "generate", "--model", Fixtures.Model(fixture), "--prompt-ids", string.Join(",", prompt), "--max-new-tokens", expected.Length.ToString(), "--stop-ids", "none", "--json" };
        if (adapter != null) args.AddRange(["--adapter", Path.Combine(Fixtures.Model(fixture), "adapters", adapter)]);
        var (exit, output, err) = CliRunner.Run([.. args]);
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(expected, doc.RootElement.GetProperty("new_token_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray());
    }

    [Fact]
    public void SamplingWithASeedRepeatsAndConflictingOptionsAreRefused()
    {
        string[] args = ["generate", "--model", Fixtures.Model("llama"), "--prompt-ids", "5,6,7", "--max-new-tokens", "8", "--temperature", "0.8", "--top-p", "0.9", "--seed", "7"];
        var first = CliRunner.Run(args);
        Assert.Equal(0, first.Exit);
        Assert.Equal(first.Out, CliRunner.Run(args).Out);
        var (exit, _, err) = CliRunner.Run([.. args, "--greedy"]);
        Assert.Equal(2, exit);
        Assert.Contains("--greedy cannot", err);
        (exit, _, err) = CliRunner.Run("generate", "--model", Fixtures.Model("llama"), "--prompt", "hello");
        Assert.Equal(2, exit); // the fixture has no tokenizer files
    }
}
