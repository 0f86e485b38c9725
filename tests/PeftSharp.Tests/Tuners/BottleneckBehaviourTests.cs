using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Options;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Bottleneck;
using static TorchSharp.torch;
using static PeftSharp.Tests.Tuners.SmallMethodBatches;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// Bottleneck adapters on the tiny fixture model of every architecture: the identity at start (zero up-projection),
/// where each placement puts them, the trainable count of the formula, a few steps that lower the loss, a save and
/// load that gives the same bytes back with dropout off, and merging refused with the reason.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class BottleneckBehaviourTests
{
    /// <summary>Per fixture: its task, and how many output projections Houlsby and Pfeiffer wrap (2 layers each; T5 2 + 2, the decoder's with cross-attention).</summary>
    public static TheoryData<string, int, int> Architectures => new()
    {
        { "gpt2", 4, 2 },
        { "llama", 4, 2 },
        { "bert", 4, 2 },
        { "t5", 10, 4 },
    };

    private const int Hidden = 64; // every fixture's hidden size

    private static int Wrapped(PeftModel peft) => peft.Layers.Count(l => l.Layer is BottleneckLayer);

    private static BottleneckConfig Config(JsonObject? fields = null)
    {
        var o = fields ?? new JsonObject();
        o["peft_type"] = BottleneckConfig.Type;
        return BottleneckConfig.Read(new JsonConfig(o, "test config"));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void StartsAsTheIdentityExactlyAndCountsAsTheFormulaSays(string arch, int houlsby, int pfeiffer)
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model(arch));
        var batch = Batch(arch);
        var before = Logits(model, batch);
        var peft = PeftModel.Create(model, Config());
        Assert.True(Same(Logits(model, batch), before), $"{arch}: a new adapter (zero up-projection) must leave the outputs exactly as they were");
        Assert.Equal(houlsby, Wrapped(peft));
        // per wrapped module: W_down [m, d] + b_down [m] + W_up [d, m] + b_up [d], m = d / reduction_factor
        long m = Hidden / 16;
        Assert.Equal(houlsby * (2 * Hidden * m + m + Hidden) + HeadParameters(arch), peft.TrainableParameters().Trainable);
        peft.Unload();

        var p = PeftModel.Create(model, Config(new JsonObject { ["placement"] = "pfeiffer", ["reduction_factor"] = 8 }));
        var names = p.Layers.Where(l => l.Layer is BottleneckLayer).Select(l => l.Path).ToList();
        Assert.Equal(pfeiffer, names.Count);
        Assert.All(names, n => Assert.DoesNotMatch(@"attn|attention|Attention", n)); // after the feed-forward block only
        Assert.Equal(pfeiffer * (2 * Hidden * 8 + 8 + Hidden) + HeadParameters(arch), p.TrainableParameters().Trainable);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void TrainsSavesAndLoadsTheSameBytesAndRefusesToMerge(string arch, int houlsby, int _)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = AutoModel.FromPretrained(Fixtures.Model(arch));
        var batch = Batch(arch);
        var before = Logits(model, batch);
        var peft = PeftModel.Create(model, Config(new JsonObject { ["reduction_factor"] = 8, ["non_linearity"] = "gelu", ["adapter_dropout"] = 0.1 }));
        peft.train();
        var trainable = peft.TrainableNamedParameters().ToList();
        var adapterTensors = trainable.Where(t => !t.Name.StartsWith("classifier.", StringComparison.Ordinal)).ToList();
        Assert.Equal(4 * houlsby, adapterTensors.Count);
        Assert.All(adapterTensors, t => Assert.Matches(@"\.adapter_(down|up)\.default\.(weight|bias)$", t.Name));
        var optimizer = optim.Adam(trainable.Select(t => t.Parameter), lr: 1e-2);
        var losses = new List<double>();
        for (int step = 0; step < 12; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            losses.Add(TrainingStep.ForwardBackward(model, Kind(arch), batch, 1.0));
            optimizer.step();
        }
        Assert.True(losses[^1] < losses[0], $"{arch}: loss {losses[0]:F4} -> {losses[^1]:F4}");
        Assert.All(model.named_parameters().Where(p => !p.name.Contains(".adapter_") && !p.name.StartsWith("classifier.", StringComparison.Ordinal)), p => Assert.Null(p.parameter.grad)); // the base stays frozen
        peft.eval();
        var trained = Logits(model, batch);
        Assert.False(trained.allclose(before, 1e-6, 1e-6), $"{arch}: training changed nothing");

        var dir = Directory.CreateTempSubdirectory("peft-bottleneck-").FullName;
        try
        {
            peft.Save(dir);
            var config = JsonConfig.Load(Path.Combine(dir, PeftModel.ConfigFile));
            Assert.Equal(BottleneckConfig.Type, config.GetString("peft_type"));
            Assert.True(config.GetBool("peftsharp_only", false));
            Assert.Equal("gelu", config.GetString("non_linearity"));
            var card = File.ReadAllText(Path.Combine(dir, AdapterModelCard.FileName));
            Assert.Contains("library_name: peftsharp", card); // not peft: the Hub must not offer it to Python PEFT
            Assert.Contains("Python PEFT has no such method and cannot load it", card);
            Assert.DoesNotContain("from peft import", card);
            using (var file = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile)))
            {
                var keys = file.Keys.Where(k => !k.StartsWith("base_model.model.classifier.", StringComparison.Ordinal)).ToList();
                Assert.Equal(4 * houlsby, keys.Count);
                Assert.All(keys, k => Assert.Matches(@"^base_model\.model\..+\.adapter_(down|up)\.(weight|bias)$", k));
            }

            using var fresh = AutoModel.FromPretrained(Fixtures.Model(arch));
            var loaded = PeftModel.Load(fresh, dir);
            var reloaded = Logits(fresh, batch);
            Assert.True(Same(reloaded, trained), $"{arch}: reloaded outputs differ by {reloaded.sub(trained).abs().max().item<float>():E3}");
            Assert.True(Same(Logits(fresh, batch), reloaded), $"{arch}: inference after loading is not deterministic (dropout on?)");

            var e = Assert.Throws<PeftException>(() => loaded.MergeAdapter());
            Assert.Contains("nonlinearity between its two projections", e.Message);
            Assert.Throws<PeftException>(() => loaded.MergeAndUnload());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void LayersToTransformAndExplicitTargetsChooseTheModules()
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model("gpt2"));
        var peft = PeftModel.Create(model, Config(new JsonObject { ["layers_to_transform"] = new JsonArray(1) }));
        Assert.Equal(["transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_proj"], peft.Layers.Select(l => l.Path).Order(StringComparer.Ordinal));
        peft.Unload();

        using var llama = AutoModel.FromPretrained(Fixtures.Model("llama"));
        var q = PeftModel.Create(llama, Config(new JsonObject { ["target_modules"] = new JsonArray("q_proj"), ["placement"] = "pfeiffer" }));
        Assert.Equal(2, Wrapped(q)); // explicit targets win over the placement's defaults
        Assert.All(q.Layers, l => Assert.EndsWith("q_proj", l.Path));
    }

    [Fact]
    public void TwoAdaptersAddUpAndEachBatchRowCanUseItsOwn()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = AutoModel.FromPretrained(Fixtures.Model("llama"));
        var batch = Batch("llama");
        var inputs = batch.Inputs;
        var baseLogits = Logits(model, batch);
        var random = new JsonObject { ["init_weights"] = false }; // random up-projections: each adapter changes the outputs
        var peft = PeftModel.Create(model, Config(random), "a");
        peft.AddAdapter("b", Config(random.DeepClone().AsObject()));
        Tensor Run(params string[] active)
        {
            peft.SetActiveAdapters(active);
            return Logits(model, batch);
        }
        var a = Run("a");
        var b = Run("b");
        var both = Run("a", "b");
        Assert.False(a.allclose(baseLogits, 1e-4, 1e-4));
        Assert.False(a.allclose(b, 1e-4, 1e-4));
        Assert.False(both.allclose(a, 1e-4, 1e-4));

        Tensor rows;
        using (no_grad()) rows = peft.Forward(inputs, ["b", AdapterLayer.BaseRow]).Logits!;
        Assert.True(rows[0].allclose(b[0], 1e-5, 1e-5), "row 0 uses adapter b alone");
        Assert.True(rows[1].allclose(baseLogits[1], 1e-5, 1e-5), "row 1 uses the base alone");

        using (peft.DisableAdapters())
            Assert.True(Same(Logits(model, batch), baseLogits));
        peft.Unload();
        Assert.True(Same(Logits(model, batch), baseLogits), "unloading gives the base back untouched");
    }

    [Theory]
    [InlineData("placement", "\"sideways\"", "placement")]
    [InlineData("non_linearity", "\"softmax\"", "non_linearity")]
    [InlineData("reduction_factor", "0", "reduction_factor")]
    public void AFileWithABadValueIsOneLineNamingTheKey(string key, string value, string named)
    {
        var json = JsonConfig.Parse($$"""{ "peft_type": "BOTTLENECK", "{{key}}": {{value}} }""", "adapter_config.json");
        var e = Assert.Throws<PeftException>(() => TunerRegistry.For("BOTTLENECK").ReadConfig(json));
        Assert.Contains("adapter_config.json", e.Message);
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void ItIsReadButTheAnswerToAnUnknownPeftTypeStaysAboutPeftsTypes()
    {
        Assert.IsType<BottleneckTuner>(TunerRegistry.For("bottleneck"));
        Assert.DoesNotContain(BottleneckConfig.Type, TunerRegistry.Supported);
        var e = Assert.Throws<PeftException>(() => TunerRegistry.For("HRA"));
        Assert.Equal($"peft_type \"HRA\" is not supported (supported: {string.Join(", ", TunerRegistry.Supported)})", e.Message);
        Assert.DoesNotContain("BOTTLENECK", e.Message);
    }

    [Fact]
    public void TheTrainerTrainsItFromTheMethodOptions()
    {
        using var run = new TinyTrainingRun();
        var options = run.Options("bottleneck") with
        {
            Method = BottleneckTuner.MethodName, MaxSteps = 24, LearningRate = 1e-2, Dropout = 0, Pooling = "mean", Scheduler = "constant", WarmupRatio = 0,
        };
        options = TrainingSchema.Set(TrainingSchema.Set(options, BottleneckTuner.Placement, "pfeiffer"), BottleneckTuner.ReductionFactor, 8);
        var summary = new Trainer(options).Run();
        Assert.Equal("finished", summary.StopReason);
        Assert.True(summary.After!["loss"] < summary.Before!["loss"], $"validation loss {summary.Before["loss"]:F4} -> {summary.After["loss"]:F4}");
        var config = JsonConfig.Load(Path.Combine(summary.AdapterDir, PeftModel.ConfigFile));
        Assert.Equal(("pfeiffer", 8), (config.GetString("placement"), config.GetInt("reduction_factor")));
        using var file = SafetensorsFile.Open(Path.Combine(summary.AdapterDir, PeftModel.WeightsFile));
        Assert.Contains("base_model.model.bert.encoder.layer.0.output.dense.adapter_down.weight", file.Keys);
        Assert.Equal([4, 32], file.Load("base_model.model.bert.encoder.layer.0.output.dense.adapter_down.weight").shape);
        Assert.DoesNotContain(file.Keys, k => k.Contains("attention"));
    }
}
