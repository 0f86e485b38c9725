using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Models;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>peft eval --metrics: a seq2seq model's generations scored with BLEU, chrF and ROUGE.</summary>
[Collection(CliRunner.Collection)]
public class EvalGenerationMetricsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("peft-eval-gen-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ScoresGenerationsOfASeq2SeqModel()
    {
        var modelDir = Path.Combine(_root, "t5");
        using (var model = TinyModels.Create(TinyModels.T5(c => c["vocab_size"] = 30522), perturb: false)) ModelSaver.Save(model, modelDir);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers", "minilm", "vocab.txt"), Path.Combine(modelDir, "vocab.txt"));
        var data = Path.Combine(_root, "pairs.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 6).Select(i => new JsonObject { ["source"] = $"translate number {i}", ["target"] = $"the number {i}" }.ToJsonString()));

        var (exit, stdout, err) = CliRunner.Run("eval", "--model", modelDir, "--data", data, "--task", "seq2seq", "--metrics", "bleu,chrf,rouge", "--max-new-tokens", "4", "--json");
        Assert.True(exit == 0, err);
        var metrics = JsonDocument.Parse(stdout).RootElement.GetProperty("metrics");
        foreach (var name in new[] { "loss", "perplexity", "bleu", "chrf", "rouge1", "rouge2", "rougeL" })
        {
            double v = metrics.GetProperty(name).GetDouble();
            Assert.True(double.IsFinite(v) && v >= 0, $"{name} = {v}");
        }
        Assert.True(metrics.GetProperty("chrf").GetDouble() <= 100);

        (exit, _, err) = CliRunner.Run("eval", "--model", modelDir, "--data", data, "--task", "classification", "--metrics", "bleu");
        Assert.Equal(2, exit);
    }
}
