using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Bert;

/// <summary>
/// dense, dropout, then LayerNorm over the residual sum: transformers' BertSelfOutput and BertOutput,
/// which differ only in the dense layer's input width.
/// </summary>
public sealed class BertResidualOutput : nn.Module
{
    private nn.Module<Tensor, Tensor> dense;
    private nn.Module<Tensor, Tensor> LayerNorm;
    private readonly nn.Module<Tensor, Tensor> dropout;

    public BertResidualOutput(BertConfig config, long inputWidth) : base(nameof(BertResidualOutput))
    {
        dense = ModelLayers.Linear(inputWidth, config.Hidden);
        LayerNorm = nn.LayerNorm(config.Hidden, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropout);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor residual) => LayerNorm.forward(dropout.forward(dense.forward(x)).add(residual));
}
