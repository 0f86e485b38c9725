using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.BitFit;
using static PeftSharp.Tests.Tuners.SmallMethodBatches;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// BitFit on the tiny fixture model of every architecture: only biases train and their count is the model's; a save
/// and load gives the same outputs; merged equals unmerged; unloading gives the base back exactly. Llama and T5 have no
/// biases at all, and say so in one line.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class BitFitBehaviourTests
{
    /// <summary>Per fixture: whether it has biases (GPT-2: Conv1D and LayerNorm ones; BERT: Linear and LayerNorm ones; Llama and T5: none).</summary>
    public static TheoryData<string, bool> Architectures => new()
    {
        { "gpt2", true },
        { "llama", false },
        { "bert", true },
        { "t5", false },
    };

    private static BitFitConfig Config(JsonObject? fields = null)
    {
        var o = fields ?? new JsonObject();
        o["peft_type"] = BitFitConfig.Type;
        return BitFitConfig.Read(new JsonConfig(o, "test config"));
    }

    /// <summary>The model's own bias parameters, by name, outside the head that trains whole.</summary>
    private static Dictionary<string, long> Biases(nn.Module model) =>
        model.named_parameters().Where(p => p.name.EndsWith(".bias", StringComparison.Ordinal) && !IsHead(p.name)).ToDictionary(p => p.name, p => p.parameter.numel());

    [Theory]
    [MemberData(nameof(Architectures))]
    public void OnlyBiasesTrainAndSaveLoadMergeAndUnloadAreExact(string arch, bool hasBiases)
    {
        using var scope = NewDisposeScope();
        manual_seed(13);
        using var model = AutoModel.FromPretrained(Fixtures.Model(arch));
        if (!hasBiases)
        {
            var e = Assert.Throws<PeftException>(() => PeftModel.Create(model, Config()));
            Assert.Equal($"BitFit trains bias terms, and this {arch} model has none", e.Message);
            Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("base_layer")); // nothing was wrapped
            return;
        }
        var batch = Batch(arch);
        var before = Logits(model, batch);
        var biases = Biases(model);
        var baseParameters = Snapshot(model);
        var peft = PeftModel.Create(model, Config());
        Assert.True(Same(Logits(model, batch), before), $"{arch}: fresh bias copies must leave the outputs exactly as they were");
        Assert.Equal(biases.Count, peft.Layers.Count(l => l.Layer is BitFitLayer));
        Assert.Equal(biases.Values.Sum() + HeadParameters(arch), peft.TrainableParameters().Trainable);

        peft.train();
        var trainable = peft.TrainableNamedParameters().ToList();
        Assert.All(trainable.Where(t => !IsHead(t.Name)), t => Assert.EndsWith(".bias.default", t.Name));
        var optimizer = optim.Adam(trainable.Select(t => t.Parameter), lr: 1e-2);
        var losses = new List<double>();
        for (int step = 0; step < 10; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            losses.Add(TrainingStep.ForwardBackward(model, Kind(arch), batch, 1.0));
            optimizer.step();
        }
        Assert.True(losses[^1] < losses[0], $"{arch}: loss {losses[0]:F4} -> {losses[^1]:F4}");
        foreach (var (name, p) in model.named_parameters().Where(p => !p.name.EndsWith(".bias.default", StringComparison.Ordinal) && !IsHead(p.name)))
            Assert.True(Same(baseParameters[name.Replace(".base_layer", "", StringComparison.Ordinal)], p), $"{arch}: {name} changed in training");
        peft.eval();
        var trained = Logits(model, batch);
        Assert.False(trained.allclose(before, 1e-6, 1e-6), $"{arch}: training changed nothing");

        var dir = Directory.CreateTempSubdirectory("peft-bitfit-").FullName;
        try
        {
            peft.Save(dir);
            var config = JsonConfig.Load(Path.Combine(dir, PeftModel.ConfigFile));
            Assert.Equal((BitFitConfig.Type, BitFitConfig.All, true), (config.GetString("peft_type"), config.GetString("biases"), config.GetBool("peftsharp_only", false)));
            var card = File.ReadAllText(Path.Combine(dir, AdapterModelCard.FileName));
            Assert.Contains("library_name: peftsharp", card);
            using (var file = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile)))
            {
                // The modules' own key names: base_model.model.<module>.bias, one per bias of the model.
                Assert.Equal(biases.Keys.Select(k => AdapterKeys.Prefix + k).Order(StringComparer.Ordinal), file.Keys.Where(k => !IsHead(k)).Order(StringComparer.Ordinal));
                var trainedBias = trainable.First(t => !IsHead(t.Name));
                var key = AdapterKeys.Prefix + trainedBias.Name.Replace(".bias.default", ".bias", StringComparison.Ordinal);
                Assert.True(Same(file.Load(key), trainedBias.Parameter.detach()), $"{key} is not the trained bias");
            }

            using var fresh = AutoModel.FromPretrained(Fixtures.Model(arch));
            var loaded = PeftModel.Load(fresh, dir);
            Assert.True(Same(Logits(fresh, batch), trained), $"{arch}: the reloaded adapter gives other outputs");
            using (loaded.DisableAdapters())
                Assert.True(Same(Logits(fresh, batch), before), $"{arch}: disabled, the base's own biases compute");
            loaded.MergeAdapter();
            var merged = Logits(fresh, batch);
            Assert.True(merged.allclose(trained, 1e-5, 1e-5), $"{arch}: merged differs from unmerged by {merged.sub(trained).abs().max().item<float>():E3}");
            loaded.UnmergeAdapter();
            Assert.True(Same(Logits(fresh, batch), trained), $"{arch}: unmerged again");
            loaded.Unload();
            Assert.True(Same(Logits(fresh, batch), before), $"{arch}: unloading gives the base back exactly");
            foreach (var (name, p) in fresh.named_parameters().Where(p => !IsHead(p.name)))
                Assert.True(Same(baseParameters[name], p), $"{arch}: {name} differs after load + merge + unload");

            using var third = AutoModel.FromPretrained(Fixtures.Model(arch));
            var unloaded = PeftModel.Load(third, dir).MergeAndUnload();
            Assert.DoesNotContain(unloaded.named_parameters(), p => p.name.Contains("base_layer") || p.name.Contains(".default"));
            Assert.True(Logits(third, batch).allclose(trained, 1e-5, 1e-5), $"{arch}: merge_and_unload must keep the trained biases in the base");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void TargetModulesChooseWhoseBiasesTrain()
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model("gpt2"));
        var peft = PeftModel.Create(model, Config(new JsonObject { ["target_modules"] = new JsonArray("c_attn") }));
        Assert.Equal(["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"], peft.Layers.Select(l => l.Path).Order(StringComparer.Ordinal));
        Assert.Equal(2 * 3 * 64, peft.TrainableParameters().Trainable);
        Assert.Equal(BitFitConfig.Targeted, JsonNode.Parse(peft.Configs[PeftModel.DefaultAdapter].ToJson())!["biases"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{ "peft_type": "BITFIT", "biases": "some" }""", "\"biases\"")]
    [InlineData("""{ "peft_type": "BITFIT", "biases": "all", "target_modules": ["c_attn"] }""", "target_modules")]
    [InlineData("""{ "peft_type": "BITFIT", "biases": "target_modules" }""", "target_modules")]
    public void AFileWithABadValueIsOneLineNamingTheKey(string json, string named)
    {
        var e = Assert.Throws<PeftException>(() => TunerRegistry.For("BITFIT").ReadConfig(JsonConfig.Parse(json, "adapter_config.json")));
        Assert.Contains("adapter_config.json", e.Message);
        Assert.Contains(named, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ItIsReadButNotListedAsPeftsAndItMerges()
    {
        var tuner = TunerRegistry.For("bitfit");
        Assert.IsType<BitFitTuner>(tuner);
        Assert.DoesNotContain(BitFitConfig.Type, TunerRegistry.Supported);
        Assert.False(tuner.Description.ReadByPythonPeft);
        Assert.True(tuner.Description.Mergeable);
    }

    [Fact]
    public void TheTrainerTrainsItByName()
    {
        using var run = new TinyTrainingRun();
        var options = run.Options("bitfit") with
        {
            Method = "bitfit", MaxSteps = 24, LearningRate = 1e-2, Dropout = 0, Pooling = "mean", Scheduler = "constant", WarmupRatio = 0,
        };
        var summary = new Trainer(options).Run();
        Assert.Equal("finished", summary.StopReason);
        Assert.True(summary.After!["loss"] < summary.Before!["loss"], $"validation loss {summary.Before["loss"]:F4} -> {summary.After["loss"]:F4}");
        using var file = SafetensorsFile.Open(Path.Combine(summary.AdapterDir, PeftModel.WeightsFile));
        Assert.Contains("base_model.model.bert.encoder.layer.0.attention.self.query.bias", file.Keys);
        Assert.All(file.Keys.Where(k => !IsHead(k)), k => Assert.EndsWith(".bias", k));
    }
}
