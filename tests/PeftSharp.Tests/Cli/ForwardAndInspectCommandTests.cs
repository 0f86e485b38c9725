using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

[Collection(CliRunner.Collection)]
public class ForwardAndInspectCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("peft-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void ForwardWritesOutputsEqualToTheReference(string fixture)
    {
        var outPath = Path.Combine(_dir, fixture + ".safetensors");
        var (exit, _, err) = CliRunner.Run("forward", "--model", Fixtures.Model(fixture), "--inputs", Fixtures.Inputs(fixture), "--out", outPath);
        Assert.True(exit == 0, err);
        using var ours = SafetensorsFile.Open(outPath);
        using var reference = SafetensorsFile.Open(Fixtures.Reference(fixture));
        using var mask = PeftSharp.Models.ModelInputsFile.Load(Fixtures.Inputs(fixture), 1000).AttentionMask!;
        foreach (var key in reference.Keys)
        {
            Assert.Equal(SafetensorsDType.F32, ours.GetEntry(key).DType);
            double e = Parity.MaxRelativeError(ours.Load(key), reference.Load(key), mask);
            Assert.True(e < Parity.Tolerance, $"{key}: {e:E3}");
        }
    }

    [Fact]
    public void InspectPrintsArchitectureCountAndTree()
    {
        var (exit, output, err) = CliRunner.Run("inspect", "--model", Fixtures.Model("llama"));
        Assert.True(exit == 0, err);
        Assert.Contains("LlamaForCausalLM", output);
        Assert.Contains("202,048", output);
        Assert.Contains("q_proj", output);
        Assert.Contains("[128, 64]", output); // k_proj: 2 kv heads x 16 dims
    }

    public static TheoryData<string[], string> Mistakes => new()
    {
        { ["inspect", "--model", "/nonexistent/model"], "the model folder does not exist" },
        { ["inspect", "--model", "."], "no config.json" },
        { ["forward", "--model", Fixtures.Model("gpt2"), "--inputs", "/nonexistent.json", "--out", "/tmp/x.safetensors"], "file not found" },
        { ["forward", "--model", Fixtures.Model("gpt2"), "--inputs", Fixtures.Inputs("gpt2"), "--out", "/tmp/x.safetensors", "--adapter", "/nonexistent"], "adapter folder not found" },
        { ["forward", "--model", Fixtures.Model("gpt2"), "--inputs", Fixtures.Inputs("gpt2"), "--out", "/tmp/x.safetensors", "--merge"], "--merge needs" },
        { ["merge", "--model", Fixtures.Model("gpt2"), "--adapter", Path.Combine(Fixtures.Model("llama"), "adapters", "lora"), "--out", "/tmp/never"], "match no module" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void UserMistakesGiveOneLineAndNonZeroExit(string[] args, string expected)
    {
        var (exit, _, err) = CliRunner.Run(args);
        Assert.NotEqual(0, exit);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void BadJsonAndUnknownArchitectureAreExplained()
    {
        var model = Path.Combine(_dir, "model");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "config.json"), "{ \"model_type\": ");
        var (exit, _, err) = CliRunner.Run("inspect", "--model", model);
        Assert.Equal(2, exit);
        Assert.Contains("invalid JSON", err);

        File.WriteAllText(Path.Combine(model, "config.json"), "{ \"model_type\": \"mamba\" }");
        (exit, _, err) = CliRunner.Run("inspect", "--model", model);
        Assert.Equal(2, exit);
        Assert.Contains("\"mamba\" is not supported", err);
    }

    [Fact]
    public void InputsWithOutOfVocabularyIdsAreRejected()
    {
        var inputs = Path.Combine(_dir, "inputs.json");
        File.WriteAllText(inputs, "{\"input_ids\": [[1, 2, 5000]], \"attention_mask\": [[1, 1, 1]]}");
        var (exit, _, err) = CliRunner.Run("forward", "--model", Fixtures.Model("gpt2"), "--inputs", inputs, "--out", Path.Combine(_dir, "o.safetensors"));
        Assert.Equal(2, exit);
        Assert.Contains("[0][2] = 5000", err);
    }
}
