using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

/// <summary>The Llama backbone (transformers' LlamaModel): embed_tokens, decoder layers, final norm.</summary>
public sealed class LlamaModel : nn.Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private nn.Module<Tensor, Tensor> norm;
    private readonly RotaryEmbedding _rotary;
    private readonly LlamaConfig _config;

    public LlamaModel(LlamaConfig config) : base(nameof(LlamaModel))
    {
        _config = config;
        embed_tokens = nn.Embedding(config.VocabSize, config.Hidden, padding_idx: config.PadTokenId);
        layers = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new LlamaDecoderLayer(config)).ToArray());
        norm = new RmsNorm(config.Hidden, config.RmsNormEps);
        _rotary = new RotaryEmbedding(config.Rope);
        RegisterComponents();
    }

    public Embedding TokenEmbedding => embed_tokens;

    public Tensor Forward(PreparedInputs prepared) => BeginLayers(prepared).Run();

    /// <summary>A prefix counts as past positions (as a transformers cache holding it would).</summary>
    public LayerPass BeginLayers(PreparedInputs prepared)
    {
        var inputs = prepared.Inputs;
        var hidden = inputs.InputsEmbeds ?? embed_tokens.forward(inputs.RequireInputIds(_config.ModelType));
        long length = hidden.shape[1];
        var prefix = inputs.Prefix;
        prefix?.Validate(_config.ModelType, layers.Count, hidden.shape[0], _config.KvHeads, _config.HeadDim);
        long past = inputs.PrefixLength + (inputs.Cache?.Length ?? 0);
        var positions = inputs.PositionIds ?? arange(past, past + length, dtype: ScalarType.Int64, device: hidden.device).unsqueeze(0);
        var (cos, sin) = _rotary.Compute(positions, hidden.dtype);
        var bias = AttentionBias.Causal(inputs.AttentionMask, length, past, hidden.dtype, hidden.device, _config.SlidingWindow, prefixLength: inputs.PrefixLength);
        var cache = inputs.Cache;
        return new LayerPass
        {
            Hidden = hidden,
            Count = layers.Count,
            Layer = (i, x) => layers[i].Forward(x, cos, sin, bias, cache, prefix, i),
            Finish = norm.forward,
        };
    }
}
