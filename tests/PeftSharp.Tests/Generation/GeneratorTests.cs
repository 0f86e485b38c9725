using System.Text.Json;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;
using Generator = PeftSharp.Generation.Generator;

namespace PeftSharp.Tests.Generation;

public class GeneratorTests
{
    [Theory]
    [InlineData("gpt2", true)]
    [InlineData("gpt2", false)]
    [InlineData("llama", true)]
    [InlineData("llama", false)]
    public void GreedyMatchesTransformersGenerate(string fixture, bool useCache)
    {
        using var model = AutoModel.FromPretrained(Fixtures.Model(fixture));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Model(fixture), "generate_base.json")));
        var prompt = doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var expected = doc.RootElement.GetProperty("new_token_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var produced = Generator.Generate(model, [prompt], new GenerationOptions { MaxNewTokens = expected.Length, UseCache = useCache });
        Assert.Equal(expected, produced[0]);
    }

    public static TheoryData<string> Configs => new()
    {
        TinyModels.Gpt2(), TinyModels.Llama(), TinyModels.Llama(c => { c["model_type"] = "mistral"; c["sliding_window"] = 5; }), TinyModels.T5(),
    };

    [Theory]
    [MemberData(nameof(Configs))]
    public void CachedAndUncachedGiveTheSameTokens(string config)
    {
        using var model = TinyModels.Create(config);
        long[][] prompts = [[5, 6, 7, 8], [9, 10]];
        var cached = Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 12 });
        var uncached = Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 12, UseCache = false });
        Assert.Equal(uncached, cached);
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void LeftPaddedBatchGeneratesAsEachPromptAlone(string config)
    {
        using var model = TinyModels.Create(config);
        long[][] prompts = [[5, 6, 7, 8, 9, 11], [12, 13], [20, 21, 22]];
        var together = Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 8, PadTokenId = 0 });
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(Generator.Generate(model, [prompts[i]], new GenerationOptions { MaxNewTokens = 8 })[0], together[i]);
    }

    [Fact]
    public void StopTokenEndsOnlyItsRow()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        long[][] prompts = [[5, 6, 7], [8, 9, 10]];
        var free = Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 6 });
        long stop = free[0][2];
        var stopped = Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 6, StopTokenIds = [stop] });
        Assert.Equal(free[0][..(Array.IndexOf(free[0], stop) + 1)], stopped[0]);
        int cut = Array.IndexOf(free[1], stop);
        Assert.Equal(cut < 0 ? free[1] : free[1][..(cut + 1)], stopped[1]);
    }

    [Fact]
    public void SamplingIsReproducibleForASeedAndTopKOneIsGreedy()
    {
        using var model = TinyModels.Create(TinyModels.Gpt2());
        long[][] prompt = [[1, 2, 3]];
        var sample = new GenerationOptions { MaxNewTokens = 10, DoSample = true, Temperature = 1.5, TopP = 0.9, Seed = 42 };
        Assert.Equal(Generator.Generate(model, prompt, sample), Generator.Generate(model, prompt, sample));
        var greedy = Generator.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 10 });
        Assert.Equal(greedy, Generator.Generate(model, prompt, sample with { TopK = 1 }));
        Assert.Equal(greedy, Generator.Generate(model, prompt, sample with { TopP = 1e-6 }));
    }

    [Fact]
    public void LogitsProcessorsFollowTransformers()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[,] { { 2f, -2f, 1f, 0.5f } });
        var penalized = LogitsProcessing.RepetitionPenalty(logits, tensor(new long[,] { { 0, 1 } }), 2.0);
        Assert.Equal([1f, -4f, 1f, 0.5f], penalized.data<float>().ToArray());
        var topk = LogitsProcessing.TopK(logits, 2).data<float>().ToArray();
        Assert.Equal([2f, float.NegativeInfinity, 1f, float.NegativeInfinity], topk);
        // softmax of [2, -2, 1, 0.5] ~ [0.61, 0.01, 0.22, 0.14]: top-p 0.7 keeps the two most likely.
        var topp = LogitsProcessing.TopP(logits, 0.7).data<float>().ToArray();
        Assert.Equal([2f, float.NegativeInfinity, 1f, float.NegativeInfinity], topp);
    }

    [Fact]
    public void GenerationKeepsLiveTensorsFlat()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        Generator.Generate(model, [[1L, 2, 3]], new GenerationOptions { MaxNewTokens = 4 });
        long before = LiveTensors.Count;
        Generator.Generate(model, [[1L, 2, 3]], new GenerationOptions { MaxNewTokens = 40 });
        Assert.Equal(before, LiveTensors.Count);
    }
}
