using System.Text.Json.Nodes;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tests.Tokenization;
using PeftSharp.Training;

namespace PeftSharp.Tests.Training;

/// <summary>
/// Instruction tuning end to end on a small GPT-2 with GPT-2's real byte-level BPE: the loss on the answers
/// falls, the adapter is written, and `peft eval` reports perplexity for it.
/// </summary>
[Collection(CliRunner.Collection)]
public class LanguageModelTrainingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("peft-lm-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    [Trait("Category", "Slow")] // GPT-2's 50,257-token vocabulary in the head: six epochs take over 10 s
    public void InstructionTuningLowersTheAnswerLoss()
    {
        var model = Path.Combine(_root, "gpt2");
        using (var m = TinyModels.Create(TinyModels.Gpt2(c => { c["vocab_size"] = 50257; c["n_positions"] = 128; c["eos_token_id"] = 50256; c["bos_token_id"] = 50256; }), perturb: false))
            ModelSaver.Save(m, model);
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(TokenizerTestData.Gpt2LegacyFolder, file), Path.Combine(model, file));
        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), """{"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}""");
        var data = Path.Combine(AppContext.BaseDirectory, "data", "examples", "instructions.jsonl");

        var summary = new Trainer(new TrainingOptions
        {
            Model = model, TrainData = data, Task = "instruction", Output = Path.Combine(_root, "run"), TargetModules = ["all-linear"],
            Epochs = 6, BatchSize = 4, LearningRate = 5e-3, Dropout = 0, MaxLength = 64, ValidationFraction = 0.2, Seed = 3,
            Scheduler = "constant", WarmupRatio = 0, EvalEvery = 0,
        }).Run();
        Assert.Equal("finished", summary.StopReason);
        Assert.True(summary.After!["loss"] < summary.Before!["loss"], $"validation answer loss {summary.Before["loss"]:F3} -> {summary.After["loss"]:F3}");
        Assert.True(summary.After.ContainsKey("perplexity"));

        var (exit, output, err) = CliRunner.Run("eval", "--model", model, "--adapter", summary.AdapterDir, "--data", data, "--json");
        Assert.True(exit == 0, err);
        Assert.Contains("\"perplexity\"", output);
        (exit, output, err) = CliRunner.Run("generate", "--model", model, "--adapter", summary.AdapterDir, "--prompt", "What is the capital of France?", "--max-new-tokens", "5");
        Assert.True(exit == 0, err);
    }
}
