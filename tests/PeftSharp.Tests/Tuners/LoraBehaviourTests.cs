using PeftSharp.Training;
using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

[Collection(SerialRandomness.Name)] // SavedAdapterLoadsBack builds two models from seed 1 and needs them equal
public class LoraBehaviourTests
{
    private static LoraConfig Config(Action<JsonObject>? edit = null)
    {
        var json = new JsonObject { ["peft_type"] = "LORA", ["r"] = 4, ["lora_alpha"] = 8, ["target_modules"] = new JsonArray("q_proj", "v_proj") };
        edit?.Invoke(json);
        return LoraConfig.Read(new JsonConfig(json, "test adapter_config.json"));
    }

    private static Tensor Logits(PretrainedModel m, long[,] ids)
    {
        using (no_grad()) return m.forward(new ModelInputs { InputIds = tensor(ids) }).Logits!;
    }

    private static readonly long[,] Ids = { { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } };

    [Fact]
    public void DefaultInitIsAnIdentityAndOnlyAdaptersTrain()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        var before = Logits(model, Ids);
        var peft = PeftModel.Create(model, Config());
        Assert.True(Logits(model, Ids).allclose(before, 0, 0), "B = 0 at init: outputs unchanged");
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("model.layers.0.self_attn.q_proj.base_layer.weight", names);
        Assert.Contains("model.layers.0.self_attn.q_proj.lora_A.default.weight", names);
        var trainable = peft.TrainableNamedParameters().Select(p => p.Name).ToList();
        Assert.Equal(8, trainable.Count); // 2 layers x (q, v) x (A, B)
        Assert.All(trainable, n => Assert.Matches(@"\.lora_[AB]\.default\.weight$", n));
        var report = peft.TrainableParameters();
        Assert.Equal(2L * ((4 * 32 + 32 * 4) + (4 * 32 + 16 * 4)), report.Trainable); // q: 32->32, v: 32->16 (GQA)
        Assert.Contains("trainable%", report.ToString());
    }

    [Theory]
    [InlineData("gaussian")]
    [InlineData("pissa")]
    [InlineData("pissa_niter_4")]
    [InlineData("olora")]
    public void InitialisationsKeepTheModelsOutput(string init)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        var before = Logits(model, Ids);
        PeftModel.Create(model, Config(c => c["init_lora_weights"] = init));
        Assert.True(Logits(model, Ids).allclose(before, 1e-4, 1e-4), $"{init} changed the outputs at step 0");
    }

    [Fact]
    public void DoraStartsAsTheBaseAndMergesToTheSameOutputs()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var before = Logits(model, Ids);
        var peft = PeftModel.Create(model, Config(c => { c["use_dora"] = true; c["target_modules"] = "all-linear"; c["init_lora_weights"] = false; }));
        Assert.False(Logits(model, Ids).allclose(before, 1e-3, 1e-3));
        var unmerged = Logits(model, Ids);
        peft.MergeAdapter();
        Assert.True(Logits(model, Ids).allclose(unmerged, 1e-5, 1e-5), "merged DoRA differs from unmerged");
        peft.UnmergeAdapter();
        Assert.True(Logits(model, Ids).allclose(unmerged, 1e-5, 1e-5));
    }

    [Fact]
    public void TargetingFollowsPeftRules()
    {
        using var model = TinyModels.Create(TinyModels.Llama(c => c["num_hidden_layers"] = 3));
        IReadOnlyList<string> Targets(Action<JsonObject> edit) =>
            TargetSelector.Select(model, Config(edit).Targets, m => LinearBase.IsLinear(m), []);

        Assert.Equal(6, Targets(_ => { }).Count);
        Assert.Equal(["model.layers.1.self_attn.q_proj"], Targets(c => c["target_modules"] = @"model\.layers\.1\.self_attn\.q_proj"));
        Assert.Equal(21, Targets(c => c["target_modules"] = "all-linear").Count); // 3 layers x 7, lm_head excluded
        Assert.Equal(3, Targets(c => { c["target_modules"] = "all-linear"; c["exclude_modules"] = new JsonArray("q_proj", "k_proj", "v_proj", "o_proj"); }).Count(n => n.Contains("mlp") && n.Contains("layers.0")));
        Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.2.self_attn.q_proj", "model.layers.2.self_attn.v_proj"],
            Targets(c => { c["layers_to_transform"] = new JsonArray(0, 2); c["layers_pattern"] = "layers"; }));
        Assert.Equal(2, Targets(c => c["layers_to_transform"] = 1).Count);
        var e = Assert.Throws<PeftException>(() => Targets(c => c["target_modules"] = new JsonArray("q_prj")));
        Assert.Contains("q_proj", e.Message);
    }

    [Fact]
    public void RankAndAlphaPatternsApplyPerModule()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        PeftModel.Create(model, Config(c =>
        {
            c["rank_pattern"] = new JsonObject { ["layers.1.self_attn.q_proj"] = 2 };
            c["alpha_pattern"] = new JsonObject { [@"v_proj"] = 32 };
        }));
        var q0 = (LoraLayer)ModuleTree.Get(model, "model.layers.0.self_attn.q_proj");
        var q1 = (LoraLayer)ModuleTree.Get(model, "model.layers.1.self_attn.q_proj");
        var v0 = (LoraLayer)ModuleTree.Get(model, "model.layers.0.self_attn.v_proj");
        Assert.Equal((4, 2.0), (q0.RankOf("default"), q0.ScalingOf("default")));
        Assert.Equal((2, 4.0), (q1.RankOf("default"), q1.ScalingOf("default")));
        Assert.Equal(8.0, v0.ScalingOf("default"));
        Assert.Equal(8.0 / Math.Sqrt(4), LoraConfig.Read(new JsonConfig(new JsonObject { ["peft_type"] = "LORA", ["r"] = 4, ["lora_alpha"] = 8, ["use_rslora"] = true }, "t")).Scaling(4, 8));
    }

    [Fact]
    public void AdaptersCanBeAddedSwitchedDisabledAndDeleted()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        var baseLogits = Logits(model, Ids);
        var peft = PeftModel.Create(model, Config(c => c["init_lora_weights"] = false));
        var first = Logits(model, Ids);
        peft.AddAdapter("other", Config(c => { c["init_lora_weights"] = false; c["lora_alpha"] = 32; }));
        Assert.True(Logits(model, Ids).allclose(first), "adding does not activate");
        peft.SetAdapter("other");
        var second = Logits(model, Ids);
        Assert.False(second.allclose(first, 1e-4, 1e-4));
        Assert.All(peft.TrainableNamedParameters(), p => Assert.Contains(".other.", p.Name));
        using (peft.DisableAdapters()) Assert.True(Logits(model, Ids).allclose(baseLogits, 0, 0));
        Assert.True(Logits(model, Ids).allclose(second));

        // Per-row adapters: row 0 uses "default", row 1 the base model.
        using (no_grad())
        {
            var mixed = peft.Forward(new ModelInputs { InputIds = tensor(Ids) }, ["default", LoraLayer.BaseRow]).Logits!;
            Assert.True(mixed[0].allclose(first[0], 1e-5, 1e-5));
            Assert.True(mixed[1].allclose(baseLogits[1], 1e-5, 1e-5));
        }

        peft.DeleteAdapter("other");
        Assert.Equal("default", peft.ActiveAdapter);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains(".other."));
        Assert.True(Logits(model, Ids).allclose(first));
    }

    [Fact]
    public void SavedAdapterLoadsBackWithTheSameOutputs()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("peft-lora-").FullName;
        try
        {
            using var model = TinyModels.Create(TinyModels.Gpt2());
            var peft = PeftModel.Create(model, Config(c => { c["target_modules"] = "all-linear"; c["init_lora_weights"] = false; c["use_dora"] = true; c["bias"] = "lora_only"; }));
            peft.AddAdapter("second", Config(c => { c["target_modules"] = new JsonArray("c_attn"); c["init_lora_weights"] = false; }));
            var expected = Logits(model, Ids);
            peft.Save(dir);
            Assert.True(File.Exists(Path.Combine(dir, "second", PeftModel.WeightsFile)));
            var json = JsonConfig.Load(Path.Combine(dir, PeftModel.ConfigFile));
            Assert.True(json.GetBool("fan_in_fan_out", false), "Conv1D targets set fan_in_fan_out as PEFT does");
            Assert.Equal(8, json.GetStringList("target_modules")!.Count);

            using var fresh = TinyModels.Create(TinyModels.Gpt2());
            var loaded = PeftModel.Load(fresh, dir);
            Assert.True(Logits(fresh, Ids).allclose(expected, 1e-6, 1e-6));
            Assert.Equal(0, loaded.TrainableParameters().Trainable);
            loaded.LoadAdapter(Path.Combine(dir, "second"), "second");
            loaded.SetAdapter("second");
            peft.SetAdapter("second");
            Assert.True(Logits(fresh, Ids).allclose(Logits(model, Ids), 1e-6, 1e-6));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void MismatchedAdapterNamesModuleAndShapesAndLeavesTheModelUntouched()
    {
        using var scope = NewDisposeScope();
        var dir = Directory.CreateTempSubdirectory("peft-lora-").FullName;
        try
        {
            using (var small = TinyModels.Create(TinyModels.Llama())) PeftModel.Create(small, Config()).Save(dir);
            using var wide = TinyModels.Create(TinyModels.Llama(c => { c["hidden_size"] = 64; }));
            var names = wide.named_parameters().Select(p => p.name).ToList();
            var e = Assert.Throws<PeftException>(() => PeftModel.Load(wide, dir));
            Assert.Contains("model.layers.0.self_attn.q_proj", e.Message);
            Assert.Contains("[4, 32]", e.Message);
            Assert.Contains("[4, 64]", e.Message);
            Assert.Equal(names, wide.named_parameters().Select(p => p.name).ToList());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AFailedInjectionLeavesTheModelAsItWas()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        var names = model.named_parameters().Select(p => p.name).ToList();
        // q_proj layers are wrapped first; the rank pattern then makes v_proj fail: everything must be put back.
        var e = Assert.Throws<PeftException>(() => PeftModel.Create(model, Config(c => c["rank_pattern"] = new JsonObject { ["v_proj"] = 0 })));
        Assert.Contains("rank", e.Message);
        Assert.Equal(names, model.named_parameters().Select(p => p.name).ToList());
        Assert.DoesNotContain(ModuleTree.NamedModules(model), m => m.Module is IAdapterLayer);
    }

    [Fact]
    public void UnknownConfigFieldsAreKeptAndReported()
    {
        var json = new JsonObject { ["peft_type"] = "LORA", ["r"] = 2, ["target_modules"] = new JsonArray("q_proj"), ["future_option"] = new JsonObject { ["x"] = 1 } };
        var config = LoraConfig.Read(new JsonConfig(json, "t"));
        using var model = TinyModels.Create(TinyModels.Llama());
        var peft = PeftModel.Create(model, config);
        Assert.Contains(peft.Warnings, w => w.Contains("future_option"));
        Assert.Contains("\"future_option\"", config.ToJson());
        var unsupported = new JsonObject { ["peft_type"] = "LORA", ["layer_replication"] = new JsonArray(new JsonArray(0, 1)) };
        Assert.Throws<PeftException>(() => LoraConfig.Read(new JsonConfig(unsupported, "t")));
    }

    [Fact]
    public void LoraPlusGivesBMatricesTheRatio()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        var peft = PeftModel.Create(model, Config());
        var groups = LoraPlus.Groups(peft, 1e-3, 16);
        Assert.Equal(["lora_A", "lora_B"], groups.Select(g => g.Name));
        Assert.All(groups[0].Parameters, p => Assert.Contains("lora_A", p.Name));
        Assert.All(groups[1].Parameters, p => Assert.Contains("lora_B", p.Name));
        Assert.Equal(4, groups[1].Parameters.Count);
        Assert.Equal([1e-3, 16e-3], groups.Select(g => g.BaseLearningRate));
    }

    /// <summary>A user's own module tree: one field typed as the generic module, one as TorchSharp's sealed Linear.</summary>
    private sealed class UserModel : nn.Module<Tensor, Tensor>
    {
        private nn.Module<Tensor, Tensor> encoder = nn.Linear(8, 16);
        private readonly Linear head = nn.Linear(16, 4);

        public UserModel() : base(nameof(UserModel)) => RegisterComponents();

        public override Tensor forward(Tensor x) => head.call(encoder.forward(x).relu());
    }

    [Fact]
    public void InjectsIntoAUsersOwnModuleTree()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var model = new UserModel();
        var x = randn(5, 8);
        var before = model.forward(x).detach().clone();
        var peft = PeftModel.Create(model, LoraConfig.Read(new JsonConfig(new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 2, ["lora_alpha"] = 4, ["init_lora_weights"] = false, ["target_modules"] = new JsonArray("encoder", "head"),
        }, "t")));
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("encoder.base_layer.weight", names);
        Assert.Contains("head.lora_B.default.weight", names);
        var adapted = model.forward(x);
        Assert.False(adapted.allclose(before, 1e-4, 1e-4));

        // Both adapters take gradients: the sealed Linear field is reached through its forward hook.
        adapted.sum().backward();
        Assert.All(peft.TrainableNamedParameters(), p => Assert.NotNull(p.Parameter.grad));
        using (peft.DisableAdapters()) Assert.True(model.forward(x).allclose(before, 1e-6, 1e-6));

        peft.Unload();
        Assert.Equal(["encoder.weight", "encoder.bias", "head.weight", "head.bias"], model.named_parameters().Select(p => p.name).ToList());
        Assert.True(model.forward(x).allclose(before, 0, 0));
    }

    [Fact]
    public void Two_classifier_adapters_cannot_be_active_at_once_but_two_plain_ones_can()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Bert(c => c["architectures"] = new JsonArray("BertForSequenceClassification")));
        var config = () => new LoraConfig { R = 2, LoraAlpha = 4, TaskType = "SEQ_CLS", Targets = new TargetSpec { TargetList = ["query", "value"] } };
        var peft = PeftModel.Create(model, config());
        peft.AddAdapter("second", config());
        var e = Assert.Throws<PeftException>(() => peft.SetActiveAdapters([PeftModel.DefaultAdapter, "second"]));
        Assert.Contains("classifier", e.Message);
        Assert.Contains("one of them at a time", e.Message);
        peft.SetActiveAdapters(["second"]); // one alone is fine

        using var lm = TinyModels.Create(TinyModels.Llama());
        var plain = PeftModel.Create(lm, new LoraConfig { R = 2, LoraAlpha = 4, Targets = new TargetSpec { TargetList = ["q_proj"] } });
        plain.AddAdapter("second", new LoraConfig { R = 2, LoraAlpha = 4, Targets = new TargetSpec { TargetList = ["q_proj"] } });
        plain.SetActiveAdapters([PeftModel.DefaultAdapter, "second"]);
    }
}
