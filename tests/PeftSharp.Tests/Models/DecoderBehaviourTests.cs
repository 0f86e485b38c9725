using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models;

/// <summary>
/// Properties transformers' decoders have that the fixtures do not pin down: padding on either side,
/// batch independence, grouped-query attention, RoPE scaling, sliding windows, tied heads, dropout.
/// </summary>
public class DecoderBehaviourTests
{
    public static TheoryData<string> Configs => new() { TinyModels.Gpt2(), TinyModels.Llama(),
        TinyModels.Llama(c => c["model_type"] = "qwen2"), TinyModels.Llama(c => { c["model_type"] = "mistral"; c["sliding_window"] = 4; }) };

    private static Tensor Logits(PretrainedModel m, Tensor ids, Tensor? mask = null, Tensor? positions = null)
    {
        using (no_grad()) return m.forward(new ModelInputs { InputIds = ids, AttentionMask = mask, PositionIds = positions }).Logits!;
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void LeftAndRightPaddingGiveTheUnpaddedOutputs(string config)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(config);
        var plain = Logits(model, TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9 } }));
        // Row 0 left-padded by 2, row 1 right-padded by 2; positions as transformers' generate() makes them.
        var ids = TinyModels.Ids(new long[,] { { 0, 0, 5, 6, 7, 8, 9 }, { 5, 6, 7, 8, 9, 0, 0 } });
        var mask = TinyModels.Ids(new long[,] { { 0, 0, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 1, 0, 0 } });
        var positions = mask.cumsum(1).sub(1).clamp_min(0);
        var padded = Logits(model, ids, mask, positions);
        Assert.True(padded[0, 2..].allclose(plain[0], 1e-5, 1e-5), "left padding changed the outputs");
        Assert.True(padded[1, ..5].allclose(plain[0], 1e-5, 1e-5), "right padding changed the outputs");
        Assert.False(padded.isnan().any().item<bool>(), "padded positions must stay finite");
    }

    [Fact]
    public void GroupedQueryAttentionEqualsMultiHeadWithRepeatedKeyValueHeads()
    {
        using var scope = NewDisposeScope();
        using var gqa = TinyModels.Create(TinyModels.Llama(c => c["num_key_value_heads"] = 1));
        using var mha = TinyModels.Create(TinyModels.Llama(c => c["num_key_value_heads"] = 4));
        // Each of the 4 query heads of the MHA model gets the single GQA key/value head (8 dims each).
        TinyModels.CopyWeights(gqa, mha, (name, w) => name.EndsWith("k_proj.weight") || name.EndsWith("v_proj.weight") ? w.repeat(4, 1) : w);
        var ids = TinyModels.Ids(new long[,] { { 1, 2, 3, 4, 5, 6 } });
        Assert.True(Logits(gqa, ids).allclose(Logits(mha, ids), 1e-5, 1e-5));
    }

    [Fact]
    public void LinearRopeScalingEqualsDividedPositions()
    {
        using var scope = NewDisposeScope();
        using var plain = TinyModels.Create(TinyModels.Llama());
        using var scaled = TinyModels.Create(TinyModels.Llama(c => c["rope_scaling"] = new System.Text.Json.Nodes.JsonObject { ["rope_type"] = "linear", ["factor"] = 2.0 }));
        TinyModels.CopyWeights(plain, scaled);
        var ids = TinyModels.Ids(new long[,] { { 1, 2, 3, 4, 5 } });
        var positions = TinyModels.Ids(new long[,] { { 0, 1, 2, 3, 4 } });
        Assert.True(Logits(scaled, ids, positions: positions.mul(2)).allclose(Logits(plain, ids, positions: positions), 1e-4, 1e-5));
    }

    [Fact]
    public void DynamicRopeScalingOnlyActsBeyondTheTrainedLength()
    {
        using var scope = NewDisposeScope();
        using var plain = TinyModels.Create(TinyModels.Llama(c => c["max_position_embeddings"] = 8));
        using var dynamic = TinyModels.Create(TinyModels.Llama(c => { c["max_position_embeddings"] = 8; c["rope_scaling"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "dynamic", ["factor"] = 4.0 }; }));
        TinyModels.CopyWeights(plain, dynamic);
        var shortIds = TinyModels.Ids(new long[,] { { 1, 2, 3, 4, 5, 6, 7, 8 } });
        Assert.True(Logits(dynamic, shortIds).allclose(Logits(plain, shortIds)));
        var longIds = TinyModels.Ids(new long[,] { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 } });
        Assert.False(Logits(dynamic, longIds).allclose(Logits(plain, longIds), 1e-4, 1e-4));
    }

    [Fact]
    public void Llama3RopeKeepsHighFrequenciesAndDividesLowOnes()
    {
        using var scope = NewDisposeScope();
        var raw = PeftSharp.IO.JsonConfig.Parse(TinyModels.Llama(c => c["rope_scaling"] = new System.Text.Json.Nodes.JsonObject
        {
            ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 64,
        }), "t");
        var config = new LlamaConfig(raw);
        var scaled = new RotaryEmbedding(config.Rope).Compute(TinyModels.Ids(new long[,] { { 1 } }), ScalarType.Float32);
        var plain = new RotaryEmbedding(config.Rope with { Type = "default" }).Compute(TinyModels.Ids(new long[,] { { 1 } }), ScalarType.Float32);
        // head_dim 8: inv_freq = 1, 0.1, 0.01, 0.001 -> wavelengths 6.3 (< 64/4: kept), 62.8 (between 16 and 64:
        // smoothed), 628 and 6283 (> 64/1: divided by 8).
        double smooth = (64 / (2 * Math.PI / 0.1) - 1) / (4 - 1);
        double[] expected = [1, (1 - smooth) * 0.1 / 8 + smooth * 0.1, 0.01 / 8, 0.001 / 8];
        var angle = scaled.Sin[0, 0].asin().to(ScalarType.Float64).data<double>().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], angle[i], 4);
        Assert.Equal(Math.Sin(1.0), plain.Sin[0, 0, 0].item<float>(), 5);
    }

    [Fact]
    public void SlidingWindowHidesTokensOutsideTheWindow()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama(c => { c["model_type"] = "mistral"; c["sliding_window"] = 3; c["num_hidden_layers"] = 1; }));
        var a = Logits(model, TinyModels.Ids(new long[,] { { 1, 2, 3, 4, 5, 6 } }));
        var b = Logits(model, TinyModels.Ids(new long[,] { { 9, 2, 3, 4, 5, 6 } }));
        Assert.False(a[0, 2].allclose(b[0, 2]), "position 2 sees position 0");
        Assert.True(a[0, 3..].allclose(b[0, 3..], 1e-6, 1e-6), "positions 3.. must not see position 0 through a window of 3");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TiedHeadSharesTheEmbedding(bool tied)
    {
        using var model = TinyModels.Create(TinyModels.Llama(c => c["tie_word_embeddings"] = tied));
        var names = model.named_parameters().Select(p => p.name).ToList();
        Assert.Equal(!tied, names.Contains("lm_head.weight"));
        Assert.Equal(tied, model.TiedParameters.ContainsKey("lm_head.weight"));
    }

    [Fact]
    public void Qwen2HasBiasOnQkvOnly()
    {
        using var model = TinyModels.Create(TinyModels.Llama(c => c["model_type"] = "qwen2"));
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", names);
        Assert.Contains("model.layers.0.self_attn.v_proj.bias", names);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", names);
        Assert.Equal("Qwen2ForCausalLM", model.ArchitectureName);
    }

    [Fact]
    public void DropoutActsOnlyInTraining()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Gpt2(c => { c["resid_pdrop"] = 0.5; c["attn_pdrop"] = 0.5; }));
        var ids = TinyModels.Ids(new long[,] { { 1, 2, 3, 4 } });
        Assert.True(Logits(model, ids).allclose(Logits(model, ids), 0, 0));
        model.train();
        Assert.False(Logits(model, ids).allclose(Logits(model, ids), 1e-3, 1e-3));
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void BatchRowsDoNotInfluenceEachOther(string config)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(config);
        var both = Logits(model, TinyModels.Ids(new long[,] { { 1, 2, 3, 4 }, { 7, 8, 9, 10 } }));
        var second = Logits(model, TinyModels.Ids(new long[,] { { 7, 8, 9, 10 } }));
        Assert.True(both[1].allclose(second[0], 1e-5, 1e-5));
    }

    /// <summary>
    /// Each decoder layer runs in its own dispose scope that keeps only its output, so the intermediates autograd does
    /// not save are freed as the pass goes (as in PyTorch), not when the caller's scope ends: what a forward leaves in
    /// the caller's scope grows by at most a couple of tensors a layer (the outputs), not by the layer's intermediates.
    /// </summary>
    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void ALayersIntermediatesDoNotOutliveIt(string architecture)
    {
        long LeftByForward(int layers)
        {
            using var scope = NewDisposeScope();
            using var model = TinyModels.Create(architecture == "gpt2"
                ? TinyModels.Gpt2(c => c["n_layer"] = layers)
                : TinyModels.Llama(c => c["num_hidden_layers"] = layers));
            var ids = TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9 } });
            long before = LiveTensors.Count;
            model.forward(new ModelInputs { InputIds = ids });
            return LiveTensors.Count - before;
        }
        LeftByForward(1);
        long perLayer = (LeftByForward(6) - LeftByForward(2)) / 4;
        Assert.InRange(perLayer, 0, 2);
    }
}
