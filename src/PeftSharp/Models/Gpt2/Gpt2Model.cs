using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Gpt2;

/// <summary>The GPT-2 backbone (transformers' GPT2Model): token and position embeddings, blocks, ln_f.</summary>
public sealed class Gpt2Model : nn.Module
{
    private readonly Embedding wte;
    private readonly Embedding wpe;
    private readonly nn.Module<Tensor, Tensor> drop;
    private readonly ModuleList<Gpt2Block> h;
    private nn.Module<Tensor, Tensor> ln_f;
    private readonly Gpt2Config _config;

    public Gpt2Model(Gpt2Config config) : base(nameof(Gpt2Model))
    {
        _config = config;
        wte = nn.Embedding(config.VocabSize, config.Hidden);
        wpe = nn.Embedding(config.MaxPositions, config.Hidden);
        drop = nn.Dropout(config.EmbdDropout);
        h = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(i => new Gpt2Block(config, i)).ToArray());
        ln_f = nn.LayerNorm(config.Hidden, config.LayerNormEps);
        RegisterComponents();
    }

    public Embedding TokenEmbedding => wte;

    public Tensor Forward(PreparedInputs prepared) => BeginLayers(prepared).Run();

    /// <summary>A prefix counts as past positions (as a transformers cache holding it would).</summary>
    public LayerPass BeginLayers(PreparedInputs prepared)
    {
        var inputs = prepared.Inputs;
        var embeds = inputs.InputsEmbeds ?? wte.forward(inputs.RequireInputIds("GPT-2"));
        long batch = embeds.shape[0], length = embeds.shape[1];
        var prefix = inputs.Prefix;
        prefix?.Validate("GPT-2", h.Count, batch, _config.Heads, _config.HeadDim);
        long past = inputs.PrefixLength + (inputs.Cache?.Length ?? 0);
        if (past + length > _config.MaxPositions)
            throw new PeftException($"GPT-2: {past + length} positions exceed n_positions {_config.MaxPositions}");
        var positions = inputs.PositionIds ?? arange(past, past + length, dtype: ScalarType.Int64, device: embeds.device).unsqueeze(0);
        var hidden = drop.forward(embeds.add(wpe.forward(positions)));
        var bias = AttentionBias.Causal(inputs.AttentionMask, length, past, hidden.dtype, hidden.device, prefixLength: inputs.PrefixLength);
        var cache = inputs.Cache;
        return new LayerPass
        {
            Hidden = hidden,
            Count = h.Count,
            Layer = (i, x) => h[i].Forward(x, bias, cache, prefix, i),
            Finish = ln_f.forward,
        };
    }
}
