using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Options;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.PromptLearning;
using PeftSharp.Tuners.PromptLearning.PrefixTuning;
using PeftSharp.Tuners.PromptLearning.PTuning;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// The three prompt-learning methods train: only their own tensors get gradients, a few steps on a tiny decoder lower
/// the loss through the prompt alone, the saved file holds PEFT's prompt_embeddings (an encoder's output, not the
/// encoder) with the resolved config fields, and loading it gives the trained model's outputs back. Through the real
/// trainer (what <c>peft train --method</c> runs) each method trains a tiny BERT classifier.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class PromptLearningTrainingTests : IClassFixture<PromptLearningTrainingTests.Run>
{
    public sealed class Run : IDisposable
    {
        public TinyTrainingRun Data { get; } = new();
        public void Dispose() => Data.Dispose();
    }

    private readonly TinyTrainingRun _run;

    public PromptLearningTrainingTests(Run run) => _run = run.Data;

    private static OptionValues With(params (OptionSpec Spec, object? Value)[] values) =>
        values.Aggregate(OptionValues.Empty, (o, v) => o.With(v.Spec.Key, v.Value));

    /// <summary>Architecture, method and variant: "projection" (prefix projection), "lstm" (P-tuning's LSTM encoder).</summary>
    public static TheoryData<string, string, string> Cases => new()
    {
        { "gpt2", "prompt-tuning", "" }, { "gpt2", "prefix-tuning", "" }, { "gpt2", "prefix-tuning", "projection" }, { "gpt2", "p-tuning", "" },
        { "gpt2", "p-tuning", "lstm" },
        { "llama", "prompt-tuning", "" }, { "llama", "prefix-tuning", "projection" }, { "llama", "p-tuning", "" }, { "llama", "p-tuning", "lstm" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void StepsLowerTheLossAndTheSavedAdapterReloads(string arch, string method, string variant)
    {
        using var scope = NewDisposeScope();
        var json = arch == "gpt2" ? TinyModels.Gpt2() : TinyModels.Llama();
        using var model = TinyModels.Create(json, seed: 4);
        var tuner = TunerRegistry.Named(method)!;
        var settings = new MethodSettings
        {
            TaskType = "CAUSAL_LM",
            Options = With((PromptLearningOptions.NumVirtualTokens, 4), (PrefixTuningTuner.PrefixProjection, variant == "projection"),
                (PTuningTuner.EncoderType, variant == "lstm" ? "LSTM" : "MLP")),
        };
        var peft = PeftModel.Create(model, tuner.CreateConfig(settings));
        var trainable = peft.TrainableNamedParameters().ToList();
        Assert.NotEmpty(trainable);
        Assert.All(trainable, p => Assert.True(p.Name == PromptAdapter.SavedKey || p.Name.StartsWith(PromptAdapter.EncoderPrefix, StringComparison.Ordinal), p.Name));

        var ids = TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9, 10 }, { 11, 12, 13, 14, 15, 16 } });
        var inputs = new ModelInputs { InputIds = ids, AttentionMask = ones_like(ids) };
        var optimizer = optim.Adam(trainable.Select(p => p.Parameter), lr: 0.05);
        var losses = new List<double>();
        for (int step = 0; step < 20; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            losses.Add(TrainingStep.ForwardBackward(model, TaskKind.CausalLm, new BatchTensors(inputs, ids), 1.0));
            optimizer.step();
        }
        Assert.True(losses[^1] < losses[0] - 0.05, $"{arch}/{method}: loss {losses[0]:F4} -> {losses[^1]:F4}");
        Assert.All(model.named_parameters(), p => Assert.Null(p.parameter.grad)); // the base stays frozen

        Tensor trained;
        using (no_grad()) trained = model.forward(inputs).Logits!;
        var dir = Directory.CreateTempSubdirectory("peft-prompt-").FullName;
        try
        {
            peft.Save(dir);
            using (var file = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile)))
                Assert.Equal([PromptAdapter.SavedKey], file.Keys);
            var config = JsonConfig.Load(Path.Combine(dir, PeftModel.ConfigFile));
            Assert.Equal(tuner.PeftType, config.GetString("peft_type"));
            Assert.Equal(4, config.GetInt("num_virtual_tokens"));
            Assert.Equal(2, config.GetInt("num_layers"));
            Assert.Equal(1, config.GetInt("num_transformer_submodules"));
            // Grouped-query Llama: a prefix has the 2 key/value heads (token_dim 2 x 8), as PEFT resolves it.
            bool kvHeads = arch == "llama" && method == "prefix-tuning";
            Assert.Equal(kvHeads ? 2 : 4, config.GetInt("num_attention_heads"));
            Assert.Equal(kvHeads ? 16 : 32, config.GetInt("token_dim"));

            using var fresh = TinyModels.Create(json, seed: 4);
            var loaded = PeftModel.Load(fresh, dir);
            Tensor reloaded;
            using (no_grad()) reloaded = fresh.forward(inputs).Logits!;
            Assert.True(reloaded.allclose(trained, 1e-5, 1e-5), $"{arch}/{method}: reloaded outputs differ by {reloaded.sub(trained).abs().max().item<float>():E3}");
            Assert.Throws<PeftException>(() => loaded.MergeAdapter());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("prompt-tuning")]
    [InlineData("prefix-tuning")]
    [InlineData("p-tuning")]
    public void TheTrainerTrainsEachMethod(string method)
    {
        var options = TrainingSchema.Set(_run.Options(method) with
        {
            Method = method, MaxSteps = 36, LearningRate = 3e-2, Dropout = 0, Pooling = "mean", Scheduler = "constant", WarmupRatio = 0,
        }, PromptLearningOptions.NumVirtualTokens, 4);
        var summary = new Trainer(options).Run();
        Assert.Equal("finished", summary.StopReason);
        double before = summary.Before!["loss"], after = summary.After!["loss"];
        Assert.True(after < 0.9 * before, $"{method}: validation loss {before:F4} -> {after:F4}");
        using var file = SafetensorsFile.Open(Path.Combine(summary.AdapterDir, PeftModel.WeightsFile));
        Assert.Contains(PromptAdapter.SavedKey, file.Keys);
        Assert.Contains("base_model.classifier.weight", file.Keys); // SEQ_CLS: the new head is saved, under PEFT's prompt-learning key
        Assert.DoesNotContain(file.Keys, k => k.StartsWith(PromptAdapter.EncoderPrefix, StringComparison.Ordinal));
        Assert.Equal(method == "prefix-tuning" ? [4, 2 * 2 * 32] : new long[] { 4, 32 }, file.Load(PromptAdapter.SavedKey).shape);
    }
}
