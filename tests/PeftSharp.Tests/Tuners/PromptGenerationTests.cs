using PeftSharp.Data;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Options;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.PromptLearning;
using static TorchSharp.torch;
using Generator = PeftSharp.Generation.Generator;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// Generation through the real prompt-learning adapters (the tuners' own hooks, not test doubles): greedy decoding
/// with the KV cache gives the same tokens as the uncached loop that re-runs the whole sequence each step, with
/// prompts of different lengths (left padding), and the adapter changes what is generated. On the tiny T5, prefix
/// tuning lowers a seq2seq loss through the decoder's self-attention prefix alone.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class PromptGenerationTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var arch in new[] { "gpt2", "llama", "t5" })
            foreach (var method in new[] { "prompt-tuning", "prefix-tuning", "p-tuning" })
                data.Add(arch, method);
        return data;
    }

    private static PretrainedModel Create(string arch) => TinyModels.Create(arch switch
    {
        "gpt2" => TinyModels.Gpt2(),
        "llama" => TinyModels.Llama(),
        _ => TinyModels.T5(),
    }, seed: 3);

    private static PeftModel Adapt(PretrainedModel model, string arch, string method, int virtualTokens = 3)
    {
        var settings = new MethodSettings
        {
            TaskType = arch == "t5" ? TaskTypes.Seq2SeqLm : TaskTypes.CausalLm,
            Options = OptionValues.Empty.With(PromptLearningOptions.NumVirtualTokens.Key, virtualTokens),
        };
        manual_seed(5);
        var peft = PeftModel.Create(model, TunerRegistry.Named(method)!.CreateConfig(settings));
        // Prompts far from a random init's scale so that they steer the tiny model visibly.
        using (no_grad())
            foreach (var (_, p) in peft.TrainableNamedParameters()) p.mul_(3);
        peft.eval();
        return peft;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyWithTheCacheEqualsTheUncachedLoop(string arch, string method)
    {
        using var scope = NewDisposeScope();
        using var model = Create(arch);
        long[][] prompts = [[5, 6, 7, 8, 9], [11, 12, 13]];
        var options = new GenerationOptions { MaxNewTokens = 8, };
        var plain = NextTokenLogits(model, arch);

        Adapt(model, arch, method);
        var cached = Generator.Generate(model, prompts, options);
        var uncached = Generator.Generate(model, prompts, options with { UseCache = false });
        Assert.Equal(uncached, cached);
        // The prompt steers generation: the next-token distribution moves.
        Assert.True(NextTokenLogits(model, arch).sub(plain).abs().max().item<float>() > 1e-3);
    }

    private static Tensor NextTokenLogits(PretrainedModel model, string arch)
    {
        using var _ = no_grad();
        var ids = TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9 } });
        var output = model.forward(arch == "t5"
            ? new ModelInputs { InputIds = ids, DecoderInputIds = TinyModels.Ids(new long[,] { { 0 } }) }
            : new ModelInputs { InputIds = ids });
        return output.Logits![0, -1].clone();
    }

    [Fact]
    public void PrefixTuningLowersASeq2SeqLossOnT5AndGenerationUsesThePrefix()
    {
        using var scope = NewDisposeScope();
        // TorchSharp's default initialisation: the perturbed tiny models' output scale is capped near a uniform guess
        // by the final norm and small head, so no prefix could lower their loss much.
        using var model = TinyModels.Create(TinyModels.T5(), seed: 3, perturb: false);
        long[][] sources = [[5, 6, 7, 8], [9, 10, 11, 12]];
        var before = Generator.Generate(model, sources, new GenerationOptions { MaxNewTokens = 4 });
        var peft = Adapt(model, "t5", "prefix-tuning", virtualTokens: 4);
        peft.train();
        var inputIds = TinyModels.Ids(new long[,] { { 5, 6, 7, 8 }, { 9, 10, 11, 12 } });
        var labels = TinyModels.Ids(new long[,] { { 20, 21, 22, 1 }, { 23, 24, 25, 1 } });
        var decoderIds = TinyModels.Ids(new long[,] { { 0, 20, 21, 22 }, { 0, 23, 24, 25 } });
        var batch = new BatchTensors(new ModelInputs { InputIds = inputIds, AttentionMask = ones_like(inputIds), DecoderInputIds = decoderIds }, labels);
        var optimizer = optim.Adam(peft.TrainableNamedParameters().Select(p => p.Parameter), lr: 0.2);
        var losses = new List<double>();
        for (int step = 0; step < 60; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            losses.Add(TrainingStep.ForwardBackward(model, TaskKind.Seq2SeqLm, batch, 1.0));
            optimizer.step();
        }
        Assert.True(losses[^1] < 0.5 * losses[0], $"seq2seq loss {losses[0]:F4} -> {losses[^1]:F4}");
        Assert.All(model.named_parameters(), p => Assert.Null(p.parameter.grad)); // only the prefix trains

        peft.eval();
        var after = Generator.Generate(model, sources, new GenerationOptions { MaxNewTokens = 4 });
        Assert.NotEqual(before, after);
        Assert.Equal(after, Generator.Generate(model, sources, new GenerationOptions { MaxNewTokens = 4, UseCache = false }));
        // Trained towards the labels: greedy decoding starts with a first target token (one prefix serves both rows).
        Assert.All(after, row => Assert.Contains(row[0], new long[] { 20, 23 }));
    }
}
