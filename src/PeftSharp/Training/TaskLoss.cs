using PeftSharp.Data;
using PeftSharp.Models;
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
                return (LabelLoss.Classification(logits, labels), labels.shape[0]);
            case TaskKind.CausalLm:
            case TaskKind.Seq2SeqLm:
                return TokenLoss(logits, TokenTargets(kind, AlignToSequence(labels, logits.shape[1])));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    /// <summary>The label each position is scored against: shifted left for a causal LM (<see cref="LabelLoss.ShiftLeft"/>); seq2seq labels are already aligned.</summary>
    public static Tensor TokenTargets(TaskKind kind, Tensor labels) => kind == TaskKind.CausalLm ? LabelLoss.ShiftLeft(labels) : labels;

    /// <summary>Labels padded in front for the virtual positions prompt methods prepend (<see cref="LabelLoss.AlignToSequence"/>).</summary>
    public static Tensor AlignToSequence(Tensor labels, long sequenceLength) => LabelLoss.AlignToSequence(labels, sequenceLength);

    private static (Tensor, long) TokenLoss(Tensor logits, Tensor labels) => LabelLoss.TokenLoss(logits, labels);
}
