using PeftSharp.Data;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// The loss for each task, as transformers computes it: cross-entropy over classes, or over next tokens
/// (labels shifted by one for causal LM, as given for seq2seq), ignoring -100. Returns the mean over the
/// counted targets and their number, so that accumulation and evaluation can weight batches by tokens.
/// </summary>
public static class TaskLoss
{
    public static (Tensor Loss, long Count) Compute(TaskKind kind, Tensor logits, Tensor labels)
    {
        switch (kind)
        {
            case TaskKind.SequenceClassification:
                return (nn.functional.cross_entropy(logits.to(ScalarType.Float32), labels), labels.shape[0]);
            case TaskKind.CausalLm:
            {
                // Position t predicts label t+1. Shifting the labels (and ignoring the last position) instead of
                // slicing the logits avoids copying the largest tensor of the step, [batch, seq, vocab], and its gradient.
                var ignore = full(labels.shape[0], 1, TokenizedExample.IgnoreIndex, dtype: labels.dtype, device: labels.device);
                return TokenLoss(logits, cat([labels[.., 1..], ignore], 1));
            }
            case TaskKind.Seq2SeqLm:
                return TokenLoss(logits, labels);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    private static (Tensor, long) TokenLoss(Tensor logits, Tensor labels)
    {
        var flatLabels = labels.reshape(-1);
        long count = flatLabels.ne(TokenizedExample.IgnoreIndex).sum().item<long>();
        var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32), flatLabels,
            ignore_index: TokenizedExample.IgnoreIndex, reduction: nn.Reduction.Sum);
        return (count == 0 ? loss.mul(0) : loss.div(count), count);
    }
}
