using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// PiSSA/OLoRA adapters rewrite the base weight to a residual; what they save must still work on the original base:
/// by default converted to a plain LoRA of rank 2r, with save_residual_form as trained (re-derived at load).
/// </summary>
[Collection(SerialRandomness.Name)] // builds several models from the same seed and needs them equal
public class LoraResidualSaveTests
{
    private static readonly long[,] Ids = { { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } };

    private static LoraConfig Config(string init, bool rsLora = false, bool dora = false, bool patterns = false, bool loraBias = false,
        string targets = "q_proj,v_proj", string? task = null)
    {
        var json = new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 4, ["lora_alpha"] = 8, ["init_lora_weights"] = init, ["use_rslora"] = rsLora, ["use_dora"] = dora,
            ["lora_bias"] = loraBias, ["target_modules"] = new JsonArray(targets.Split(',').Select(t => (JsonNode?)t).ToArray()), ["task_type"] = task,
        };
        if (patterns)
        {
            json["rank_pattern"] = new JsonObject { ["layers.1.self_attn.q_proj"] = 2 };
            json["alpha_pattern"] = new JsonObject { ["v_proj"] = 32 };
        }
        return LoraConfig.Read(new JsonConfig(json, "test adapter_config.json"));
    }

    private static Tensor Logits(PretrainedModel m)
    {
        using (no_grad()) return m.forward(new ModelInputs { InputIds = tensor(Ids) }).Logits!;
    }

    private static double RelativeError(Tensor actual, Tensor expected) =>
        actual.sub(expected).abs().max().item<float>() / (double)expected.abs().max().item<float>();

    /// <summary>Stands in for training: every trained tensor (A, B, magnitudes, lora_B's bias, a saved head) moves.</summary>
    private static void Perturb(PeftModel peft)
    {
        manual_seed(11);
        using var _ = no_grad();
        foreach (var (_, p) in peft.TrainableNamedParameters()) p.add_(randn_like(p).mul(0.1));
    }

    /// <summary>A PiSSA/OLoRA adapter on model, "trained"; returns the outputs it gives.</summary>
    private static (PeftModel Peft, Tensor Expected) Trained(PretrainedModel model, LoraConfig config)
    {
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, config);
        Assert.True(RelativeError(Logits(model), baseLogits) < 1e-4, "the init keeps the outputs");
        Perturb(peft);
        var expected = Logits(model);
        Assert.True(RelativeError(expected, baseLogits) > 1e-2, "the perturbation must change the outputs");
        return (peft, expected);
    }

    private static void AssertClose(Tensor actual, Tensor expected, string what)
    {
        var error = RelativeError(actual, expected);
        Assert.True(error < 1e-5, $"{what}: relative error {error:E2}");
    }

    private static JsonConfig SavedConfig(string dir) => JsonConfig.Load(Path.Combine(dir, PeftModel.ConfigFile));

    private static Dictionary<string, long[]> SavedShapes(string dir)
    {
        using var file = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile));
        return file.Entries.ToDictionary(e => e.Name, e => e.Shape.ToArray());
    }

    [Theory]
    [InlineData("pissa", false, false, false, false)]
    [InlineData("pissa_niter_4", false, false, false, false)]
    [InlineData("olora", false, false, false, false)]
    [InlineData("pissa", true, false, false, false)]
    [InlineData("olora", true, false, false, false)]
    [InlineData("pissa", false, true, false, false)]
    [InlineData("olora", false, true, false, false)]
    [InlineData("pissa", false, false, true, false)]
    [InlineData("olora", true, true, true, false)]
    [InlineData("pissa", false, false, false, true)]
    public void SavedAdapterIsAPlainLoraOfTwiceTheRankOnTheOriginalBase(string init, bool rsLora, bool dora, bool patterns, bool loraBias)
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("peft-pissa-").FullName;
        try
        {
            using var model = TinyModels.Create(TinyModels.Llama());
            var config = Config(init, rsLora, dora, patterns, loraBias);
            var (peft, expected) = Trained(model, config);
            var held = peft.AdapterStateDict(PeftModel.DefaultAdapter).ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            peft.Save(dir);
            Assert.Equal((4, 8.0, init), (config.R, config.LoraAlpha, config.InitLoraWeights)); // the in-memory config is unchanged

            var json = SavedConfig(dir);
            double alphaFactor = rsLora ? Math.Sqrt(2) : 2;
            Assert.Equal(8, json.GetInt("r"));
            Assert.Equal(8 * alphaFactor, json.GetDouble("lora_alpha"), 12);
            Assert.True(json.Raw("init_lora_weights") is JsonValue v && v.TryGetValue(out bool b) && b, "init_lora_weights is true");
            Assert.False(json.Root.ContainsKey("save_residual_form"));
            if (patterns)
            {
                Assert.Equal(4.0, json.GetNumberMap("rank_pattern")["layers.1.self_attn.q_proj"]);
                Assert.Equal(32 * alphaFactor, json.GetNumberMap("alpha_pattern")["v_proj"], 12);
            }
            // Every tensor is there (magnitudes, lora_B's bias): A and B twice the rank, the rest as held.
            var saved = SavedShapes(dir);
            Assert.Equal(held.Keys.Order(), saved.Keys.Order());
            foreach (var (key, shape) in held)
            {
                long[] want = key.EndsWith("lora_A.weight") ? [2 * shape[0], shape[1]] : key.EndsWith("lora_B.weight") ? [shape[0], 2 * shape[1]] : shape;
                Assert.Equal(want, saved[key]);
            }
            if (dora) Assert.Contains(saved.Keys, k => k.EndsWith("lora_magnitude_vector"));
            if (loraBias) Assert.Contains(saved.Keys, k => k.EndsWith("lora_B.bias"));

            using var fresh = TinyModels.Create(TinyModels.Llama());
            var loaded = PeftModel.Load(fresh, dir);
            Assert.Empty(loaded.Warnings);
            Assert.Equal("true", ((LoraConfig)loaded.Configs[PeftModel.DefaultAdapter]).InitLoraWeights);
            AssertClose(Logits(fresh), expected, "converted adapter on the original base");
            if (loraBias) return; // merging drops lora_B's bias when the base layer has none (Llama's q/v), PiSSA or not
            loaded.MergeAndUnload();
            AssertClose(Logits(fresh), expected, "converted adapter merged into the original base");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("pissa", false)]
    [InlineData("pissa_niter_4", false)]
    [InlineData("olora", false)]
    [InlineData("pissa", true)]
    public void ResidualFormLoadsOntoTheOriginalBaseAndConvertsWhenSavedAgain(string init, bool dora)
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("peft-pissa-").FullName;
        try
        {
            using var model = TinyModels.Create(TinyModels.Llama());
            var config = Config(init, dora: dora, patterns: true);
            config.SaveResidualForm = true;
            var (peft, expected) = Trained(model, config);
            peft.Save(Path.Combine(dir, "residual"));

            var json = SavedConfig(Path.Combine(dir, "residual"));
            Assert.Equal((4, init), (json.GetInt("r"), json.GetString("init_lora_weights")));
            Assert.False(json.Root.ContainsKey("save_residual_form"), "a run-time choice, not a config field");

            // As PEFT: the factorisation runs again on the given base, then the saved A, B go in. Exact SVD/QR both times.
            using var fresh = TinyModels.Create(TinyModels.Llama());
            var loaded = PeftModel.Load(fresh, Path.Combine(dir, "residual"));
            AssertClose(Logits(fresh), expected, "residual form on the original base");
            if (init.StartsWith("pissa_niter_")) Assert.Contains(loaded.Warnings, w => w.Contains("randomized SVD"));
            else Assert.Empty(loaded.Warnings);

            // The loaded adapter remembers its A0, B0: saved again (default) it is the plain rank-2r LoRA.
            loaded.Save(Path.Combine(dir, "converted"));
            Assert.Equal(8, SavedConfig(Path.Combine(dir, "converted")).GetInt("r"));
            using var third = TinyModels.Create(TinyModels.Llama());
            PeftModel.Load(third, Path.Combine(dir, "converted"));
            AssertClose(Logits(third), expected, "residual form loaded, then saved converted");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AsTrainedFormKeepsTheResidualTensorsForCheckpoints()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("peft-pissa-").FullName;
        try
        {
            using var model = TinyModels.Create(TinyModels.Llama());
            var (peft, expected) = Trained(model, Config("olora"));
            peft.Save(dir, form: AdapterSaveForm.AsTrained);
            Assert.Equal((4, "olora"), (SavedConfig(dir).GetInt("r"), SavedConfig(dir).GetString("init_lora_weights")));

            // A resume: the same init on a fresh base, then the checkpoint's tensors copied in.
            using var fresh = TinyModels.Create(TinyModels.Llama());
            var resumed = PeftModel.Create(fresh, Config("olora"));
            using (var file = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile))) resumed.LoadAdapterWeights(file, PeftModel.DefaultAdapter);
            AssertClose(Logits(fresh), expected, "checkpoint loaded onto a re-initialised adapter");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SequenceClassifierKeepsItsHeadAndDoraMagnitudes()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("peft-pissa-").FullName;
        try
        {
            var bert = TinyModels.Bert(c => c["architectures"] = new JsonArray("BertForSequenceClassification"));
            using var model = TinyModels.Create(bert);
            var (peft, expected) = Trained(model, Config("pissa", dora: true, targets: "query,value", task: "SEQ_CLS"));
            var held = peft.AdapterStateDict(PeftModel.DefaultAdapter).Keys.Order().ToList();
            Assert.Contains(held, k => k.Contains("classifier"));
            peft.Save(dir);
            Assert.Equal(held, SavedShapes(dir).Keys.Order()); // PEFT's own conversion would drop the head and the magnitudes

            using var fresh = TinyModels.Create(bert);
            var loaded = PeftModel.Load(fresh, dir);
            AssertClose(Logits(fresh), expected, "converted classifier adapter on the original base");
            loaded.MergeAndUnload();
            AssertClose(Logits(fresh), expected, "merged classifier adapter");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AResidualFormThatDoesNotFitLeavesTheBaseUntouched()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("peft-pissa-").FullName;
        try
        {
            using (var small = TinyModels.Create(TinyModels.Llama()))
            {
                var config = Config("pissa");
                config.SaveResidualForm = true;
                PeftModel.Create(small, config).Save(dir);
            }
            using var wide = TinyModels.Create(TinyModels.Llama(c => c["hidden_size"] = 64));
            var before = wide.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
            Assert.Throws<PeftException>(() => PeftModel.Load(wide, dir));
            foreach (var (name, p) in wide.named_parameters()) Assert.True(p.equal(before[name]).all().item<bool>(), $"{name} changed");
        }
        finally { Directory.Delete(dir, true); }
    }
}
