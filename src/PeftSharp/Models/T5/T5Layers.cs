using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.T5;

/// <summary>Pre-norm residual around self-attention (transformers' T5LayerSelfAttention).</summary>
public sealed class T5LayerSelfAttention : nn.Module
{
    private readonly T5Attention SelfAttention;
    private nn.Module<Tensor, Tensor> layer_norm;
    private readonly nn.Module<Tensor, Tensor> dropout;

    public T5LayerSelfAttention(T5Config config, bool hasRelativeBias, bool bidirectional) : base(nameof(T5LayerSelfAttention))
    {
        SelfAttention = new T5Attention(config, hasRelativeBias, bidirectional);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEps);
        dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    public T5Attention Attention => SelfAttention;

    public Tensor Forward(Tensor hidden, Tensor bias, KVCache? cache, KeyValuePrefix? prefix, int layer) =>
        hidden.add(dropout.forward(SelfAttention.Forward(layer_norm.forward(hidden), null, bias, cache, prefix, layer)));
}

/// <summary>Pre-norm residual around attention over the encoder output (T5LayerCrossAttention).</summary>
public sealed class T5LayerCrossAttention : nn.Module
{
    private readonly T5Attention EncDecAttention;
    private nn.Module<Tensor, Tensor> layer_norm;
    private readonly nn.Module<Tensor, Tensor> dropout;

    public T5LayerCrossAttention(T5Config config) : base(nameof(T5LayerCrossAttention))
    {
        EncDecAttention = new T5Attention(config, hasRelativeBias: false, bidirectional: true);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEps);
        dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor encoderHidden, Tensor bias) =>
        hidden.add(dropout.forward(EncDecAttention.Forward(layer_norm.forward(hidden), encoderHidden, bias, null, null, 0)));
}

/// <summary>T5's feed-forward: wi, activation, wo; or the gated form act(wi_0 x) * wi_1 x (flan-t5).</summary>
public sealed class T5DenseActDense : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor>? wi;
    private nn.Module<Tensor, Tensor>? wi_0;
    private nn.Module<Tensor, Tensor>? wi_1;
    private nn.Module<Tensor, Tensor> wo;
    private readonly nn.Module<Tensor, Tensor> dropout;
    private readonly Func<Tensor, Tensor> _act;

    public T5DenseActDense(T5Config config) : base(nameof(T5DenseActDense))
    {
        if (config.IsGated)
        {
            wi_0 = ModelLayers.Linear(config.DModel, config.DFf, hasBias: false);
            wi_1 = ModelLayers.Linear(config.DModel, config.DFf, hasBias: false);
        }
        else
        {
            wi = ModelLayers.Linear(config.DModel, config.DFf, hasBias: false);
        }
        wo = ModelLayers.Linear(config.DFf, config.DModel, hasBias: false);
        dropout = nn.Dropout(config.Dropout);
        _act = Activations.Get(config.Activation, config.Raw.Source);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var h = wi is not null ? _act(wi.forward(x)) : _act(wi_0!.forward(x)).mul(wi_1!.forward(x));
        return wo.forward(dropout.forward(h));
    }
}

/// <summary>Pre-norm residual around the feed-forward (T5LayerFF).</summary>
public sealed class T5LayerFF : nn.Module
{
    private readonly T5DenseActDense DenseReluDense;
    private nn.Module<Tensor, Tensor> layer_norm;
    private readonly nn.Module<Tensor, Tensor> dropout;

    public T5LayerFF(T5Config config) : base(nameof(T5LayerFF))
    {
        DenseReluDense = new T5DenseActDense(config);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEps);
        dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden) => hidden.add(dropout.forward(DenseReluDense.forward(layer_norm.forward(hidden))));
}
