using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;
using Generator = PeftSharp.Generation.Generator;

namespace PeftSharp.Tests.Models;

/// <summary>
/// Every public entry point of every architecture goes through the forward hooks exactly once, so forward,
/// ForwardHidden + head, BeginLayers(...).Run() + head, Encode, and greedy generation with and without the KV cache
/// all compute the same thing when a hook adds virtual tokens or a key/value prefix.
/// </summary>
public class ForwardHookPathTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var arch in new[] { "gpt2", "llama", "bert", "t5" })
            foreach (var kind in new[] { "virtual", "prefix" })
                data.Add(arch, kind);
        return data;
    }

    public static TheoryData<string, string> GenerativeCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var arch in new[] { "gpt2", "llama", "t5" })
            foreach (var kind in new[] { "virtual", "prefix" })
                data.Add(arch, kind);
        return data;
    }

    private static PretrainedModel Create(string arch) => TinyModels.Create(arch switch
    {
        "gpt2" => TinyModels.Gpt2(),
        "llama" => TinyModels.Llama(), // 4 query heads, 2 key/value heads: the prefix has kv_heads
        "bert" => TinyModels.Bert(),
        _ => TinyModels.T5(),
    });

    /// <summary>(kv_heads, head_dim) of the tiny configs' self-attention.</summary>
    private static (long Heads, long Dim) KeyValueShape(string arch) => arch == "llama" ? (2, 8) : (4, 8);

    private static CountingHook Hook(string arch, string kind, PretrainedModel model)
    {
        manual_seed(7);
        if (kind == "virtual") return new VirtualTokensHook(randn(3, model.InputEmbeddings.weight!.shape[1]));
        var (heads, dim) = KeyValueShape(arch);
        return new PrefixHook(new KeyValuePrefix(Enumerable.Range(0, model.LayerCount)
            .Select(_ => (randn(1, heads, 3, dim), randn(1, heads, 3, dim))).ToList()));
    }

    private static ModelInputs Inputs(string arch)
    {
        var ids = TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9 }, { 11, 12, 13, 0, 0 } });
        var mask = TinyModels.Ids(new long[,] { { 1, 1, 1, 1, 1 }, { 1, 1, 1, 0, 0 } });
        return new ModelInputs
        {
            InputIds = ids,
            AttentionMask = mask,
            TokenTypeIds = arch == "bert" ? zeros_like(ids) : null,
            DecoderInputIds = arch == "t5" ? TinyModels.Ids(new long[,] { { 0, 3, 4, 5 }, { 0, 6, 7, 8 } }) : null,
        };
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) =>
        Assert.True(expected.shape.SequenceEqual(actual.shape) && actual.allclose(expected, 1e-5, 1e-5),
            $"{what}: shapes [{string.Join(", ", expected.shape)}] / [{string.Join(", ", actual.shape)}], max diff {(expected.shape.SequenceEqual(actual.shape) ? actual.sub(expected).abs().max().item<float>() : float.NaN)}");

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryEntryPointAppliesTheHookOnce(string arch, string kind)
    {
        using var scope = NewDisposeScope();
        using var model = Create(arch);
        var inputs = Inputs(arch);
        using var _ = no_grad();
        var plain = model.forward(inputs);
        var hook = Hook(arch, kind, model);
        model.ForwardHooks = [hook];

        var hooked = model.forward(inputs);
        Assert.Equal(1, hook.Calls);
        // The tiny BERT is a bare BertModel: compare its hidden states. T5's logits are per decoder position; the
        // others keep the virtual positions in front, so their real positions are the last 5.
        Tensor Output(ModelOutput o) => arch == "bert" ? o.LastHiddenState! : o.Logits!;
        var logits = Output(hooked);
        var real = arch == "t5" ? logits : logits[.., ^5..];
        Assert.True(real[0].sub(Output(plain)[0]).abs().max().item<float>() > 1e-3, "the hook has no effect");
        if (kind == "virtual" && arch != "t5") Assert.Equal(8, logits.shape[1]);

        if (model is ILanguageModelHead lm)
        {
            AssertClose(logits, lm.LanguageModelHead.forward(lm.ForwardHidden(inputs)), "ForwardHidden + head");
            Assert.Equal(2, hook.Calls);
        }
        if (model is ILayeredModel layered)
        {
            AssertClose(logits, ((ILanguageModelHead)model).LanguageModelHead.forward(layered.BeginLayers(inputs).Run()), "BeginLayers(...).Run() + head");
            Assert.Equal(3, hook.Calls);
        }
        if (model is IEncoderDecoder encoderDecoder)
        {
            int before = hook.Calls;
            var encoded = encoderDecoder.Encode(inputs);
            Assert.Equal(before + 1, hook.Calls);
            AssertClose(hooked.EncoderLastHiddenState!, encoded, "Encode");
            var fromEncoded = model.forward(inputs with { InputIds = null, EncoderLastHiddenState = encoded });
            AssertClose(logits, fromEncoded.Logits!, "forward with an encoder output from Encode");
        }
    }

    [Theory]
    [MemberData(nameof(GenerativeCases))]
    public void GreedyGenerationIsTheSameWithAndWithoutTheCache(string arch, string kind)
    {
        using var scope = NewDisposeScope();
        using var model = Create(arch);
        var hook = Hook(arch, kind, model);
        model.ForwardHooks = [hook];
        // Prompts of different lengths: the shorter row is left-padded, so positions and masks are exercised.
        long[][] prompts = [[5, 6, 7, 8, 9], [11, 12, 13]];
        var options = new GenerationOptions { MaxNewTokens = 6 };

        var cached = Generator.Generate(model, prompts, options);
        int encodes = model is IEncoderDecoder ? 1 : 0;
        Assert.Equal(options.MaxNewTokens + encodes, hook.Calls); // one prepared forward per step, one encode
        var uncached = Generator.Generate(model, prompts, options with { UseCache = false });
        Assert.Equal(cached, uncached);

        // The first token is the argmax of a plain hooked forward over the prompt (T5: from the start token).
        using var _ = no_grad();
        var first = model is IEncoderDecoder ed
            ? model.forward(new ModelInputs { InputIds = TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9 } }), DecoderInputIds = TinyModels.Ids(new long[,] { { ed.DecoderStartTokenId } }) })
            : model.forward(new ModelInputs { InputIds = TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9 } }) });
        Assert.Equal(first.Logits![0, -1].argmax().item<long>(), cached[0][0]);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void APrefixFromTheCacheOfRealTokensEqualsFeedingThem(string arch)
    {
        using var scope = NewDisposeScope();
        using var model = Create(arch);
        using var _ = no_grad();
        var earlier = TinyModels.Ids(new long[,] { { 5, 6, 7, 8 }, { 9, 10, 11, 12 } });
        var later = TinyModels.Ids(new long[,] { { 13, 14, 15 }, { 16, 17, 18 } });
        var full = model.forward(new ModelInputs { InputIds = cat([earlier, later], 1) }).Logits![.., 4..];

        using var cache = new KVCache(model.LayerCount);
        model.forward(new ModelInputs { InputIds = earlier, Cache = cache });
        var prefix = PrefixHook.FromCache(cache, model.LayerCount);

        // Without a mask (the model builds the causal bias with the prefix visible), with a mask covering it, and
        // through a hook that extends the caller's mask.
        AssertClose(full, model.forward(new ModelInputs { InputIds = later, Prefix = prefix }).Logits!, "prefix, no mask");
        AssertClose(full, model.forward(new ModelInputs { InputIds = later, Prefix = prefix, AttentionMask = ones(2, 7, dtype: ScalarType.Int64) }).Logits!, "prefix with mask");
        model.ForwardHooks = [new PrefixHook(prefix)];
        AssertClose(full, model.forward(new ModelInputs { InputIds = later, AttentionMask = ones(2, 3, dtype: ScalarType.Int64) }).Logits!, "prefix through a hook");
        // The last position's next-token logits after one cached generation step agree as well.
        using var stepCache = new KVCache(model.LayerCount);
        model.ForwardHooks = [new PrefixHook(prefix)];
        model.forward(new ModelInputs { InputIds = later[.., ..2], Cache = stepCache });
        var step = model.forward(new ModelInputs { InputIds = later[.., 2..], Cache = stepCache }).Logits!;
        AssertClose(full[.., 2..], step, "prefix with a KV cache");
    }

    [Fact]
    public void AMaskThatDoesNotCoverThePrefixIsAClearError()
    {
        using var scope = NewDisposeScope();
        using var gpt2 = Create("gpt2");
        using var bert = Create("bert");
        var prefixFor = (PretrainedModel m) => new KeyValuePrefix(Enumerable.Range(0, m.LayerCount).Select(_ => (randn(1, 4, 3, 8), randn(1, 4, 3, 8))).ToList());
        var inputs = new ModelInputs { InputIds = TinyModels.Ids(new long[,] { { 5, 6 } }), AttentionMask = ones(1, 2, dtype: ScalarType.Int64) };
        var e1 = Assert.Throws<PeftException>(() => gpt2.forward(inputs with { Prefix = prefixFor(gpt2) }));
        Assert.Contains("prefix 3", e1.Message);
        var e2 = Assert.Throws<PeftException>(() => bert.forward(inputs with { Prefix = prefixFor(bert) }));
        Assert.Contains("prefix 3", e2.Message);
        var wrongLayers = new KeyValuePrefix([(randn(1, 4, 3, 8), randn(1, 4, 3, 8))]);
        Assert.Contains("layers", Assert.Throws<PeftException>(() => gpt2.forward(new ModelInputs { InputIds = inputs.InputIds, Prefix = wrongLayers })).Message);
    }
}
