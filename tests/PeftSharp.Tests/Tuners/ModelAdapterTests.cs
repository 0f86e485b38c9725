using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// PeftModel with an adapter whose tensors no wrapper layer holds (a test prompt-tuning method registered for the
/// test's duration): saving and loading under PEFT's key, only the active adapter's hook, disabling, merge refusal,
/// and a training step whose gradient reaches the prompt embeddings only.
/// </summary>
[Collection(SerialRandomness.Name)] // builds several models from seed 3 and compares them: no other test may draw random numbers meanwhile
public sealed class ModelAdapterTests : IDisposable
{
    private const int VirtualTokens = 3;
    private readonly TestPromptTuner _tuner = new($"SEAM_TEST_{Guid.NewGuid():N}");
    private readonly TestPromptTuner _unmergeable = new($"SEAM_TEST_{Guid.NewGuid():N}", modelLevel: false, canMerge: false);
    private readonly IDisposable _registration;
    private readonly IDisposable _registration2;

    public ModelAdapterTests()
    {
        _registration = TunerRegistry.Register(_tuner);
        _registration2 = TunerRegistry.Register(_unmergeable);
    }

    public void Dispose()
    {
        _registration.Dispose();
        _registration2.Dispose();
    }

    private static Tensor Ids => TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9 }, { 11, 12, 13, 14, 15 } });

    private static Tensor Logits(PretrainedModel model)
    {
        var ids = Ids;
        using (no_grad()) return model.forward(new ModelInputs { InputIds = ids, AttentionMask = ones_like(ids) }).Logits!;
    }

    private static PretrainedModel Model() => TinyModels.Create(TinyModels.Gpt2(), seed: 3);

    private static Parameter Prompt(PeftModel peft, string adapter) => peft.ModelAdapters[adapter].Parameters.Single().Parameter;

    /// <summary>The logits of the same base with the prompt applied by hand.</summary>
    private static Tensor Expected(Tensor prompt)
    {
        using var model = Model();
        model.ForwardHooks = [new VirtualTokensHook(prompt.detach())];
        return Logits(model);
    }

    [Fact]
    public void SaveAndLoadRoundTripKeepsTheTensorUnderItsKey()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var peft = PeftModel.Create(model, _tuner.NewConfig());
        var adapted = Logits(model);
        Assert.Equal(VirtualTokens + 5, adapted.shape[1]);
        Assert.True(adapted.allclose(Expected(Prompt(peft, PeftModel.DefaultAdapter)), 1e-6, 1e-6));
        var dir = Directory.CreateTempSubdirectory("peft-model-adapter-").FullName;
        try
        {
            peft.Save(dir);
            using (var file = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile)))
            {
                Assert.Equal(["prompt_embeddings"], file.Keys);
                Assert.True(file.Load("prompt_embeddings").allclose(Prompt(peft, PeftModel.DefaultAdapter).detach(), 0, 0));
            }
            using var fresh = Model();
            var loaded = PeftModel.Load(fresh, dir);
            Assert.True(Logits(fresh).allclose(adapted, 0, 0));
            Assert.Equal(0, loaded.TrainableParameters().Trainable);

            // The same key and shape checks as wrapper layers' tensors, before anything is copied.
            SafetensorsWriter.Write(Path.Combine(dir, PeftModel.WeightsFile), [new("prompt_embeddings", zeros(VirtualTokens + 1, 32))], new Dictionary<string, string> { ["format"] = "pt" });
            using var other = Model();
            var error = Assert.Throws<PeftException>(() => PeftModel.Load(other, dir));
            Assert.Contains("prompt_embeddings has shape [4, 32] in the file but [3, 32] in the model", error.Message);
            Assert.Empty(other.ForwardHooks);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void OnlyTheActiveAdaptersHookApplies()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var peft = PeftModel.Create(model, _tuner.NewConfig(), "a");
        peft.AddAdapter("b", _tuner.NewConfig());
        Assert.Single(model.ForwardHooks);
        var a = Logits(model);
        Assert.True(a.allclose(Expected(Prompt(peft, "a")), 1e-6, 1e-6));
        peft.SetAdapter("b");
        Assert.Single(model.ForwardHooks);
        var b = Logits(model);
        Assert.True(b.allclose(Expected(Prompt(peft, "b")), 1e-6, 1e-6));
        Assert.False(a.allclose(b, 1e-3, 1e-3));
        Assert.Throws<PeftException>(() => peft.SetActiveAdapters(["a", "b"]));
        peft.DeleteAdapter("b");
        Assert.True(Logits(model).allclose(a, 0, 0), "deleting the active adapter activates the remaining one");
        peft.Unload();
        Assert.Empty(model.ForwardHooks);
    }

    [Fact]
    public void DisablingAdaptersRemovesTheHookForTheScope()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var plain = Logits(model);
        var peft = PeftModel.Create(model, _tuner.NewConfig());
        var adapted = Logits(model);
        using (peft.DisableAdapters())
            Assert.True(Logits(model).allclose(plain, 0, 0));
        Assert.True(Logits(model).allclose(adapted, 0, 0));
    }

    [Fact]
    public void MergingIsRefusedAndChangesNothing()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var peft = PeftModel.Create(model, _tuner.NewConfig());
        var adapted = Logits(model);
        var merge = Assert.Throws<PeftException>(() => peft.MergeAdapter());
        Assert.Equal($"adapter \"default\" ({_tuner.Description.PeftType}) cannot be merged: it acts on the model's inputs (virtual tokens or a key/value prefix), not on weights", merge.Message);
        Assert.Throws<PeftException>(() => peft.MergeAndUnload());
        Assert.True(Logits(model).allclose(adapted, 0, 0));
        Assert.Single(model.ForwardHooks);
        foreach (var (name, p) in model.named_parameters()) Assert.True(p.allclose(before[name], 0, 0), name);

        using var other = Model();
        var layerless = PeftModel.Create(other, _unmergeable.NewConfig());
        Assert.Contains("does not support merging", Assert.Throws<PeftException>(() => layerless.MergeAndUnload()).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ALossStepGivesGradientsToThePromptOnly(bool checkpointLayers)
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        var peft = PeftModel.Create(model, _tuner.NewConfig());
        var trainable = peft.TrainableNamedParameters().ToList();
        Assert.Equal(["prompt_embeddings"], trainable.Select(p => p.Name));
        Assert.Equal(VirtualTokens * 32, peft.TrainableParameters().Trainable);

        var ids = Ids;
        var labels = ids.clone();
        labels[1, 0] = TokenizedExample.IgnoreIndex;
        var inputs = new ModelInputs { InputIds = ids, AttentionMask = ones_like(ids) };
        double loss = TrainingStep.ForwardBackward(model, TaskKind.CausalLm, new BatchTensors(inputs, labels), 1.0, checkpointLayers: checkpointLayers);

        // As PEFT: labels padded in front with -100 for the virtual positions, then the usual shift, so the last
        // virtual position predicts the first real token.
        Tensor expected;
        using (no_grad())
        {
            var logits = model.forward(inputs).Logits!;
            var padded = cat([full(2, VirtualTokens, TokenizedExample.IgnoreIndex, dtype: ScalarType.Int64), labels], 1);
            var targets = cat([padded[.., 1..], full(2, 1, TokenizedExample.IgnoreIndex, dtype: ScalarType.Int64)], 1);
            expected = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1), ignore_index: TokenizedExample.IgnoreIndex);
            Assert.Equal(expected.item<float>(), TaskLoss.Compute(TaskKind.CausalLm, logits, labels).Loss.item<float>(), 5);
        }
        Assert.Equal(expected.item<float>(), loss, 4);
        var grad = Prompt(peft, PeftModel.DefaultAdapter).grad;
        Assert.NotNull(grad);
        Assert.True(grad!.abs().sum().item<float>() > 0);
        Assert.All(model.named_parameters(), p => Assert.Null(p.parameter.grad));
    }

    private sealed class TestPromptTuner(string peftType, bool modelLevel = true, bool canMerge = true) : ITuner
    {
        public MethodDescription Description { get; } = new()
        {
            PeftType = peftType, Name = peftType.ToLowerInvariant(), Title = "test prompt", Summary = "virtual tokens for the seam's tests",
            Trains = false, Mergeable = canMerge,
        };

        public TestPromptConfig NewConfig() => new(peftType) { TaskType = "CAUSAL_LM" };

        public PeftConfig ReadConfig(JsonConfig json) => TestPromptConfig.Read(json, peftType);

        public IEnumerable<ModuleTree.Replacement> Inject(nn.Module root, string adapter, PeftConfig config) => [];

        public IModelAdapter? CreateModelAdapter(PretrainedModel model, string adapter, PeftConfig config) =>
            modelLevel ? new TestPromptAdapter(randn(((TestPromptConfig)config).NumVirtualTokens, model.InputEmbeddings.weight!.shape[1])) : null;

    }

    private sealed class TestPromptConfig(string peftType) : PeftConfig
    {
        public override string PeftType => peftType;
        public int NumVirtualTokens { get; set; } = VirtualTokens;

        protected override IEnumerable<string> KnownFields => base.KnownFields.Append("num_virtual_tokens");

        protected override void WriteFields(IDictionary<string, JsonNode?> fields) => fields["num_virtual_tokens"] = NumVirtualTokens;

        public static TestPromptConfig Read(JsonConfig json, string peftType)
        {
            var config = new TestPromptConfig(peftType);
            config.ReadCommon(json);
            config.NumVirtualTokens = json.GetInt("num_virtual_tokens", VirtualTokens)!.Value;
            return config;
        }
    }

    private sealed class TestPromptAdapter : IModelAdapter
    {
        private readonly Parameter _embeddings;

        public TestPromptAdapter(Tensor initial)
        {
            _embeddings = new Parameter(initial.DetachFromDisposeScope());
            Hook = new VirtualTokensHook(_embeddings);
        }

        public IReadOnlyList<(string Key, Parameter Parameter)> Parameters => [("prompt_embeddings", _embeddings)];
        public IForwardHook Hook { get; }
        public void Dispose() => _embeddings.Dispose();
    }
}
