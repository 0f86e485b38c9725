using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// The loss a forward pass returns when it is given labels (<see cref="ModelInputs.Labels"/>), as transformers'
/// <c>model(**inputs, labels=labels).loss</c>: cross-entropy over classes for a classifier, and over tokens for a
/// language model, where a causal model's position t is scored against token t+1 and -100 marks positions that do
/// not count. In Models, not Training, because it belongs to the forward pass: the library's user gets it from the
/// model, and the trainer's step computes the same numbers from these functions.
/// </summary>
public static class LabelLoss
{
    /// <summary>Labels with this value are not scored (PyTorch's and transformers' ignore index).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>The loss of one forward pass: by the logits' shape (class logits or token logits) and the model's kind.</summary>
    public static Tensor For(PretrainedModel model, Tensor logits, Tensor labels)
    {
        if (labels.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new PeftException($"{model.ArchitectureName}: labels must be class or token ids (int64), not {labels.dtype}");
        if (logits.dim() == 2) return Classification(logits, labels.to(ScalarType.Int64));
        var aligned = AlignToSequence(labels.to(ScalarType.Int64), logits.shape[1]);
        return TokenLoss(logits, model is IEncoderDecoder ? aligned : ShiftLeft(aligned)).Loss;
    }

    /// <summary>Cross-entropy of [batch, classes] logits against [batch] class ids, in float32 whatever the model's dtype.</summary>
    public static Tensor Classification(Tensor logits, Tensor labels) =>
        nn.functional.cross_entropy(logits.to(ScalarType.Float32), labels);

    /// <summary>
    /// A causal model's targets: position t predicts token t+1, so labels shift left and the last position is ignored;
    /// shifting the labels rather than slicing the logits avoids copying the largest tensor of the step,
    /// [batch, seq, vocab], and its gradient.
    /// </summary>
    public static Tensor ShiftLeft(Tensor labels)
    {
        var ignore = full(labels.shape[0], 1, IgnoreIndex, dtype: labels.dtype, device: labels.device);
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
        var ignore = full(labels.shape[0], virtualPositions, IgnoreIndex, dtype: labels.dtype, device: labels.device);
        return cat([ignore, labels], 1);
    }

    /// <summary>Mean cross-entropy over the scored positions (0, not NaN, when none is), and how many there were.</summary>
    public static (Tensor Loss, long Count) TokenLoss(Tensor logits, Tensor targets)
    {
        var flat = targets.reshape(-1);
        long count = flat.ne(IgnoreIndex).sum().item<long>();
        var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32), flat,
            ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum);
        return (count == 0 ? loss.mul(0) : loss.div(count), count);
    }
}
