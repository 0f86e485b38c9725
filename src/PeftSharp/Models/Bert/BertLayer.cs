using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Bert;

/// <summary>transformers' BertAttention: self-attention followed by its residual output.</summary>
public sealed class BertAttention : nn.Module
{
    private readonly BertSelfAttention self;
    private readonly BertResidualOutput output;

    public BertAttention(BertConfig config) : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(config);
        output = new BertResidualOutput(config, config.Hidden);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, AttentionBias bias, KeyValuePrefix? prefix, int layer) =>
        output.Forward(self.Forward(hidden, bias, prefix, layer), hidden);
}

/// <summary>transformers' BertIntermediate: the feed-forward expansion and its activation.</summary>
public sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor> dense;
    private readonly Func<Tensor, Tensor> _act;

    public BertIntermediate(BertConfig config) : base(nameof(BertIntermediate))
    {
        dense = ModelLayers.Linear(config.Hidden, config.Intermediate);
        _act = Activations.Get(config.Activation, config.Raw.Source);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => _act(dense.forward(x));
}

/// <summary>One post-norm encoder layer: attention, then the feed-forward with its residual output.</summary>
public sealed class BertLayer : nn.Module
{
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertResidualOutput output;

    public BertLayer(BertConfig config) : base(nameof(BertLayer))
    {
        attention = new BertAttention(config);
        intermediate = new BertIntermediate(config);
        output = new BertResidualOutput(config, config.Intermediate);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, AttentionBias bias, KeyValuePrefix? prefix, int layer)
    {
        var attended = attention.Forward(hidden, bias, prefix, layer);
        return output.Forward(intermediate.forward(attended), attended);
    }
}
