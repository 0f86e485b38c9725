using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Bert;

/// <summary>Bidirectional multi-head attention over query, key and value projections.</summary>
public sealed class BertSelfAttention : nn.Module
{
    private nn.Module<Tensor, Tensor> query;
    private nn.Module<Tensor, Tensor> key;
    private nn.Module<Tensor, Tensor> value;
    private readonly BertConfig _config;

    public BertSelfAttention(BertConfig config) : base(nameof(BertSelfAttention))
    {
        _config = config;
        query = ModelLayers.Linear(config.Hidden, config.Hidden);
        key = ModelLayers.Linear(config.Hidden, config.Hidden);
        value = ModelLayers.Linear(config.Hidden, config.Hidden);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, AttentionBias bias, KeyValuePrefix? prefix, int layer)
    {
        var q = Attention.SplitHeads(query.forward(hidden), _config.Heads, _config.HeadDim);
        var k = Attention.SplitHeads(key.forward(hidden), _config.Heads, _config.HeadDim);
        var v = Attention.SplitHeads(value.forward(hidden), _config.Heads, _config.HeadDim);
        if (prefix != null) (k, v) = prefix.Prepend(layer, k, v);
        return Attention.MergeHeads(Attention.ScaledDotProduct(q, k, v, bias, training ? _config.AttentionDropout : 0.0));
    }
}
