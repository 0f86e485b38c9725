using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>
/// The mean of the token states the attention mask keeps: padding must not dilute a short sentence in a batch. Used by
/// BERT's mean-pooling classifier and by sentence embeddings, so it lives with the models.
/// </summary>
public static class MeanPooling
{
    /// <summary>[batch, seq, hidden] and [batch, seq] mask to [batch, hidden]: the masked mean over positions.</summary>
    public static Tensor Apply(Tensor lastHiddenState, Tensor attentionMask)
    {
        if (lastHiddenState.dim() != 3 || attentionMask.dim() != 2
            || lastHiddenState.shape[0] != attentionMask.shape[0] || lastHiddenState.shape[1] != attentionMask.shape[1])
            throw new PeftException($"mean pooling needs hidden states [batch, seq, hidden] and a mask [batch, seq], got " +
                                    $"[{string.Join(", ", lastHiddenState.shape)}] and [{string.Join(", ", attentionMask.shape)}]");
        using var scope = NewDisposeScope();
        var mask = attentionMask.to(lastHiddenState.dtype).unsqueeze(-1);
        var sum = lastHiddenState.mul(mask).sum(1);
        var count = mask.sum(1).clamp_min(1e-9);
        return sum.div(count).MoveToOuterDisposeScope();
    }
}
