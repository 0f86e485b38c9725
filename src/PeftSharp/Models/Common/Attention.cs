using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>Shared pieces of multi-head attention used by every architecture.</summary>
public static class Attention
{
    /// <summary>[batch, seq, heads*dim] to [batch, heads, seq, dim].</summary>
    public static Tensor SplitHeads(Tensor x, long heads, long headDim) =>
        x.view(x.shape[0], x.shape[1], heads, headDim).transpose(1, 2);

    /// <summary>[batch, heads, seq, dim] to [batch, seq, heads*dim].</summary>
    public static Tensor MergeHeads(Tensor x) =>
        x.transpose(1, 2).contiguous().view(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]);

    /// <summary>Grouped-query attention: each key/value head serves heads/kvHeads query heads.</summary>
    public static Tensor RepeatKv(Tensor x, long groups) =>
        groups == 1 ? x : x.repeat_interleave(groups, dim: 1);

    /// <summary>softmax(q k^T / sqrt(d) + mask) v through libtorch's fused kernel.</summary>
    public static Tensor ScaledDotProduct(Tensor q, Tensor k, Tensor v, AttentionBias bias, double dropout) =>
        nn.functional.scaled_dot_product_attention(q, k, v, bias.Mask, dropout, bias.IsCausal);
}
