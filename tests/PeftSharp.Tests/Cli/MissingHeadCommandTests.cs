using System.Text.Json.Nodes;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.IO;
using PeftSharp.Tests.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;

namespace PeftSharp.Tests.Cli;

/// <summary>The commands that load a base print the loader's warnings about a missing task head on stderr and go on.</summary>
[Collection(CliRunner.Collection)]
public class MissingHeadCommandTests
{
    private static readonly string BertClassifier = TinyModels.Bert(c =>
    {
        c["architectures"] = new JsonArray("BertForSequenceClassification");
        c["num_labels"] = 3;
    });

    [Fact]
    public void Forward_on_a_checkpoint_without_its_classifier_warns_and_writes_the_outputs()
    {
        using var dir = new TempDir();
        var model = Path.Combine(dir.Path, "model");
        var adapter = Path.Combine(dir.Path, "adapter");
        using (var trained = TinyModels.Create(BertClassifier))
        {
            MissingTaskHeadTests.WriteFolder(trained, BertClassifier, model, n => !n.StartsWith("classifier.", StringComparison.Ordinal));
            PeftModel.Create(trained, TunerRegistry.Named("lora")!.CreateConfig(new MethodSettings { Rank = 4, Alpha = 8, TaskType = "FEATURE_EXTRACTION" })).Save(adapter);
        }
        var inputs = dir.File("inputs.json");
        File.WriteAllText(inputs, """{ "input_ids": [[1, 2, 3, 4]], "attention_mask": [[1, 1, 1, 1]] }""");

        var (exit, _, err) = CliRunner.Run("forward", "--model", model, "--inputs", inputs, "--out", dir.File("out.safetensors"));
        Assert.True(exit == 0, err);
        Assert.Contains($"peft: warning: {model}: classifier.weight, classifier.bias are not in the checkpoint; initialised randomly (seed 0)", err);
        using (var written = SafetensorsFile.Open(dir.File("out.safetensors")))
            Assert.Equal([1L, 3L], written.GetEntry("logits").Shape);

        (exit, _, err) = CliRunner.Run("forward", "--model", model, "--adapter", adapter, "--inputs", inputs, "--out", dir.File("adapted.safetensors"));
        Assert.True(exit == 0, err);
        Assert.Contains("peft: warning: adapter \"default\": classifier.weight, classifier.bias of the base model were initialised randomly", err);
        Assert.Contains("predictions come from an untrained head", err);
    }

    [Fact]
    public void A_checkpoint_missing_another_tensor_gets_the_one_line_error()
    {
        using var dir = new TempDir();
        const string query = "bert.encoder.layer.0.attention.self.query.weight";
        using (var trained = TinyModels.Create(BertClassifier))
            MissingTaskHeadTests.WriteFolder(trained, BertClassifier, dir.Path, n => n != query && !n.StartsWith("classifier.", StringComparison.Ordinal));
        var (exit, _, err) = CliRunner.Run("inspect", "--model", dir.Path, "--depth", "0");
        Assert.NotEqual(0, exit);
        Assert.Contains($"checkpoint does not fit BertForSequenceClassification: missing 1 tensor(s): {query}", err);
        Assert.DoesNotContain("warning", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
