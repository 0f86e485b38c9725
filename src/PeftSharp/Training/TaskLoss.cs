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
            case TaskKind.Seq2SeqLm:
                return TokenLoss(logits, TokenTargets(kind, AlignToSequence(labels, logits.shape[1])));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    /// <summary>
    /// The label each position is scored against. Causal LM: position t predicts token t+1, so labels shift left and
    /// the last position is ignored; shifting the labels rather than slicing the logits avoids copying the largest
    /// tensor of the step, [batch, seq, vocab], and its gradient. Seq2seq labels are already aligned.
    /// </summary>
    public static Tensor TokenTargets(TaskKind kind, Tensor labels)
    {
        if (kind != TaskKind.CausalLm) return labels;
        var ignore = full(labels.shape[0], 1, TokenizedExample.IgnoreIndex, dtype: labels.dtype, device: labels.device);
        return cat([labels[.., 1..], ignore], 1);
    }

    /// <summary>
    /// Labels for a sequence output that is longer than them: prompt methods prepend virtual positions to the
    /// model's output (PEFT's outputs keep them), so the first positions get the ignore index, as PEFT pads labels for
    /// prompt learning. With the causal shift the last virtual position then predicts the first real token, as in PEFT.
    /// </summary>
    public static Tensor AlignToSequence(Tensor labels, long sequenceLength)
    {
        long virtualPositions = sequenceLength - labels.shape[1];
        if (virtualPositions <= 0) return labels;
        var ignore = full(labels.shape[0], virtualPositions, TokenizedExample.IgnoreIndex, dtype: labels.dtype, device: labels.device);
        return cat([ignore, labels], 1);
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
