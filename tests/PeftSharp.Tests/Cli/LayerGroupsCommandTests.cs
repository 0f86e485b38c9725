using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using PeftSharp.Tuners;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// A run with layer groups on a three-layer BERT: the trainable count and the report's line are the groups', config.yaml
/// records the option and a resume refuses another value, a resume continues both adapters, and <c>peft eval</c> and
/// <c>peft merge</c> read the saved folder (the method's adapter and the biases in their subfolder) together.
/// </summary>
[Collection(CliRunner.Collection)]
public sealed class LayerGroupsCommandTests : IDisposable
{
    private const string Groups = "0:frozen,1:bias,2:adapter";
    private readonly TinyTrainingRun _run = new(layers: 3);

    public void Dispose() => _run.Dispose();

    private TrainingOptions Options(string name) => _run.Options(name) with
    {
        LayerGroups = Groups, MaxSteps = 6, LearningRate = 1e-2, Dropout = 0, Pooling = "mean", SaveEvery = 3, EvalEvery = 3, KeepLast = 5,
    };

    /// <summary>LoRA on query and value of layer 2 (r=4, 32 wide), every bias of layers 1 and 2, and the 32 → 2 head.</summary>
    private const long Trainable = 2 * 4 * (32 + 32) + 2 * (7 * 32 + 64) + (32 * 2 + 2);

    [Fact]
    public void TheRunTrainsTheGroupsAndSaysSo()
    {
        var o = Options("groups");
        var summary = TrainingSession.Run(o);
        Assert.Equal("finished", summary.StopReason);
        Assert.Equal(Trainable, summary.TrainableParameters);
        var report = File.ReadAllText(Path.Combine(o.Output, RunReport.FileName));
        Assert.Contains("| layer groups | layers 0 frozen; 1 biases only (BitFit); 2 LoRA and biases |", report);
        var yaml = File.ReadAllText(Path.Combine(o.Output, TrainConfigFile.RunFileName));
        Assert.Equal(Groups, TrainConfigFile.ParseYaml(yaml, "config.yaml").LayerGroups);
        Assert.True(File.Exists(Path.Combine(summary.AdapterDir, LayerGroups.BiasAdapter, PeftModel.WeightsFile)));
        Assert.True(File.Exists(Path.Combine(summary.AdapterDir, PeftModel.ActiveAdaptersFile)));

        var e = Assert.Throws<PeftException>(() => TrainingSession.Run(o with { Resume = true, MaxSteps = 8, LayerGroups = "0:bias,1-2:adapter" }));
        Assert.Contains($"layer_groups was {Groups}, now 0:bias,1-2:adapter", e.Message);

        // The saved folder, evaluated on the validation rows, scores what training reported: both adapters are active.
        var (_, evals) = MetricsLog.Read(Path.Combine(o.Output, MetricsLog.FileName));
        double best = evals.Where(x => x.Step > 0).Max(x => x.Metrics["accuracy"]);
        var records = PeftSharp.Data.DataFileReader.ReadAll(_run.DataFile, PeftSharp.Data.DataIssueLog.Strict());
        var split = PeftSharp.Data.DatasetSplit.TrainValidation(records, o.ValidationFraction, o.Seed);
        var validation = Path.Combine(_run.Root, "validation.jsonl");
        File.WriteAllLines(validation, split.Validation.Select(r => r.Fields.ToJsonObject().ToJsonString()));
        var (exit, stdout, err) = CliRunner.Run("eval", "--model", _run.ModelDir, "--adapter", summary.AdapterDir, "--data", validation, "--json");
        Assert.True(exit == 0, err + stdout);
        using (var doc = JsonDocument.Parse(stdout))
            Assert.Equal(best, doc.RootElement.GetProperty("metrics").GetProperty("accuracy").GetDouble(), 9);

        // Merged into a classifier's folder, both adapters' updates are in the weights.
        var classifier = Path.Combine(_run.Root, "classifier-model");
        Directory.CreateDirectory(classifier);
        foreach (var f in Directory.GetFiles(_run.ModelDir)) File.Copy(f, Path.Combine(classifier, Path.GetFileName(f)));
        var modelConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(classifier, "config.json")))!.AsObject();
        modelConfig["architectures"] = new JsonArray("BertForSequenceClassification");
        File.WriteAllText(Path.Combine(classifier, "config.json"), modelConfig.ToJsonString());
        var merged = Path.Combine(_run.Root, "merged");
        (exit, stdout, err) = CliRunner.Run("merge", "--model", classifier, "--adapter", summary.AdapterDir, "--out", merged);
        Assert.True(exit == 0, err + stdout);
        using var weights = SafetensorsFile.Open(Path.Combine(merged, "model.safetensors"));
        using var original = SafetensorsFile.Open(Path.Combine(_run.ModelDir, "model.safetensors"));
        using var trainedBiases = SafetensorsFile.Open(Path.Combine(summary.AdapterDir, LayerGroups.BiasAdapter, PeftModel.WeightsFile));
        const string layer1 = "bert.encoder.layer.1.attention.self.query.bias";
        Assert.True(weights.Load(Key(weights, layer1)).equal(trainedBiases.Load(AdapterKeys.Prefix + layer1)).all().item<bool>(), "the bias group's trained bias is merged");
        const string frozen = "bert.encoder.layer.0.attention.self.query.bias";
        Assert.True(weights.Load(Key(weights, frozen)).equal(original.Load(Key(original, frozen))).all().item<bool>(), "the frozen layer is as it was");
        const string adapted = "bert.encoder.layer.2.attention.self.query.weight";
        Assert.False(weights.Load(Key(weights, adapted)).equal(original.Load(Key(original, adapted))).all().item<bool>(), "LoRA is merged into layer 2");

        // Continued with from_adapter, both adapters train again and are saved again.
        var continued = TrainingSession.Run(_run.Options("continued") with { FromAdapter = summary.AdapterDir, MaxSteps = 2, Pooling = "mean" });
        Assert.Equal(Trainable, continued.TrainableParameters);
        Assert.True(File.Exists(Path.Combine(continued.AdapterDir, LayerGroups.BiasAdapter, PeftModel.WeightsFile)));
    }

    /// <summary>Cancels the run's token when a step is reported (what the CLI's first Ctrl-C does).</summary>
    private sealed class CancelAt(int step, CancellationTokenSource cancel) : ITrainerObserver
    {
        public void OnStep(StepRecord s) { if (s.Step == step) cancel.Cancel(); }
    }

    /// <summary>The base folder's key for a parameter (saved with or without the "bert." prefix).</summary>
    private static string Key(SafetensorsFile file, string name) => file.Keys.Contains(name) ? name : name["bert.".Length..];

    [Fact]
    public void AResumedRunContinuesBothAdapters()
    {
        var straight = Options("straight");
        TrainingSession.Run(straight);
        var cut = Options("cut");
        using (var cancel = new CancellationTokenSource())
            Assert.True(TrainingSession.Run(cut, new CancelAt(4, cancel), cancel.Token).Interrupted);
        TrainingSession.Run(cut with { Resume = true });
        foreach (var sub in new[] { "", LayerGroups.BiasAdapter })
        {
            using var a = SafetensorsFile.Open(Path.Combine(straight.Output, "adapter", sub, PeftModel.WeightsFile));
            using var b = SafetensorsFile.Open(Path.Combine(cut.Output, "adapter", sub, PeftModel.WeightsFile));
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            foreach (var key in a.Keys) Assert.True(a.Load(key).equal(b.Load(key)).all().item<bool>(), $"{sub}/{key} differs after resuming");
        }
    }
}
