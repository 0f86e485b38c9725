using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.LnTuning;
using static PeftSharp.Tests.Tuners.SmallMethodBatches;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// LN tuning on the tiny fixture model of every architecture: copies equal to the norms at creation (outputs exactly
/// unchanged), PEFT's default targets, training that changes the norm copies only, a save that reloads to the same
/// outputs, and the trainer training it by name. Parity with PEFT's files is the fixture table's (AdapterFixtureParityTests).
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class LnTuningBehaviourTests
{
    /// <summary>Per fixture: the targets (null: the defaults), how many norms that copies, their parameters.</summary>
    public static TheoryData<string, string?, int, int> Architectures => new()
    {
        { "gpt2", null, 5, 5 * 128 },   // ln_1, ln_2 in 2 blocks + ln_f, weight and bias of 64
        { "llama", null, 5, 5 * 64 },   // RMSNorm: weight only
        { "bert", null, 5, 5 * 128 },   // PeftSharp's default (PEFT has none for BERT): every LayerNorm
        { "bert", "attention.output.LayerNorm", 2, 2 * 128 },
        { "t5", null, 12, 12 * 64 },    // encoder 2 x 2 + final, decoder 2 x 3 + final
    };

    private static LnTuningConfig Config(string? targets)
    {
        var o = new JsonObject { ["peft_type"] = LnTuningConfig.Type };
        if (targets is not null) o["target_modules"] = new JsonArray(targets);
        return LnTuningConfig.Read(new JsonConfig(o, "test config"));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void TrainsTheNormCopiesOnlyAndReloadsToTheSameOutputs(string arch, string? targets, int norms, int parameters)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var model = AutoModel.FromPretrained(Fixtures.Model(arch));
        var batch = Batch(arch);
        var before = Logits(model, batch);
        var baseParameters = Snapshot(model);
        var peft = PeftModel.Create(model, Config(targets));
        Assert.True(Same(Logits(model, batch), before), $"{arch}: fresh copies of the norms must leave the outputs exactly as they were");
        Assert.Equal(norms, peft.Layers.Count(l => l.Layer is LnTuningLayer));
        Assert.Equal(parameters + HeadParameters(arch), peft.TrainableParameters().Trainable);

        peft.train();
        var trainable = peft.TrainableNamedParameters().ToList();
        Assert.All(trainable.Where(t => !IsHead(t.Name)), t => Assert.Matches(@"\.ln_tuning_layers\.default\.(weight|bias)$", t.Name));
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
        peft.eval();
        var trained = Logits(model, batch);
        Assert.False(trained.allclose(before, 1e-6, 1e-6), $"{arch}: training changed nothing");
        // The base, norms included, is bit for bit as it was: only the copies (and BERT's new head) moved.
        foreach (var (name, p) in model.named_parameters().Where(p => !p.name.Contains(".ln_tuning_layers.") && !IsHead(p.name)))
        {
            var original = name.Replace(".base_layer", "", StringComparison.Ordinal);
            Assert.True(Same(baseParameters[original], p), $"{arch}: {name} changed in training");
        }

        var dir = Directory.CreateTempSubdirectory("peft-ln-tuning-").FullName;
        try
        {
            peft.Save(dir);
            var config = JsonConfig.Load(Path.Combine(dir, PeftModel.ConfigFile));
            Assert.Equal(LnTuningConfig.Type, config.GetString("peft_type"));
            Assert.Null(config.Raw("layers_to_transform")); // PEFT's LNTuningConfig has no such field
            Assert.NotEmpty(config.GetStringList("target_modules")!); // PEFT's defaults, resolved, as PEFT writes them
            using (var file = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile)))
                Assert.All(file.Keys.Where(k => !IsHead(k)), k => Assert.Matches(@"^base_model\.model\..+\.ln_tuning_layers\.(weight|bias)$", k));

            using var fresh = AutoModel.FromPretrained(Fixtures.Model(arch));
            var loaded = PeftModel.Load(fresh, dir);
            Assert.True(Same(Logits(fresh, batch), trained), $"{arch}: the reloaded adapter gives other outputs");
            using (loaded.DisableAdapters())
                Assert.True(Same(Logits(fresh, batch), before), $"{arch}: disabled, the base's own norms compute");
            loaded.MergeAdapter();
            Assert.True(Same(Logits(fresh, batch), trained), $"{arch}: merged (the copy's values in the norm) must compute the same");
            loaded.Unload();
            Assert.True(Same(Logits(fresh, batch), before), $"{arch}: unloading after a merge gives the base back exactly");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void BertsDefaultWhichPeftLacksIsWrittenOutSoPeftReadsTheFile()
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model("bert"));
        var peft = PeftModel.Create(model, Config(null));
        var written = JsonNode.Parse(peft.Configs[PeftModel.DefaultAdapter].ToJson())!["target_modules"]!.AsArray().Select(n => n!.GetValue<string>());
        Assert.Equal(["LayerNorm"], written);
    }

    [Fact]
    public void TwoAdaptersCannotBeActiveTogetherAndEachRowCanUseItsOwn()
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model("gpt2"));
        var batch = Batch("gpt2");
        var baseLogits = Logits(model, batch);
        var peft = PeftModel.Create(model, Config(null), "a");
        peft.AddAdapter("b", Config(null));
        using (no_grad())
            foreach (var (_, layer) in peft.Layers)
                foreach (var (_, p) in layer.AdapterParameters("b")) p.add_(0.25);
        Assert.Throws<PeftException>(() => peft.SetActiveAdapters(["a", "b"]));
        peft.SetAdapter("b", trainable: false);
        var b = Logits(model, batch);
        Assert.False(b.allclose(baseLogits, 1e-4, 1e-4));
        Tensor rows;
        using (no_grad()) rows = peft.Forward(batch.Inputs, ["b", "a"]).Logits!;
        Assert.True(rows[0].allclose(b[0], 1e-5, 1e-5), "row 0 uses adapter b");
        Assert.True(rows[1].allclose(baseLogits[1], 1e-5, 1e-5), "row 1 uses adapter a, still equal to the base");
        peft.Unload();
        Assert.True(Same(Logits(model, batch), baseLogits));
    }

    [Fact]
    public void TheTrainerTrainsItByName()
    {
        using var run = new TinyTrainingRun();
        var options = run.Options("ln-tuning") with
        {
            Method = "ln-tuning", TargetModules = ["LayerNorm"], MaxSteps = 24, LearningRate = 1e-2, Dropout = 0, Pooling = "mean", Scheduler = "constant", WarmupRatio = 0,
        };
        var summary = new Trainer(options).Run();
        Assert.Equal("finished", summary.StopReason);
        var config = JsonConfig.Load(Path.Combine(summary.AdapterDir, PeftModel.ConfigFile));
        Assert.Equal((LnTuningConfig.Type, "LayerNorm"), (config.GetString("peft_type"), config.GetStringList("target_modules")!.Single()));
        using var file = SafetensorsFile.Open(Path.Combine(summary.AdapterDir, PeftModel.WeightsFile));
        Assert.Contains("base_model.model.bert.encoder.layer.0.output.LayerNorm.ln_tuning_layers.weight", file.Keys);
        Assert.All(file.Keys.Where(k => !IsHead(k)), k => Assert.Contains(".LayerNorm.ln_tuning_layers.", k));
    }
}
