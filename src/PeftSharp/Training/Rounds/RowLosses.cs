using PeftSharp.Data;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// Each row's own loss in a batch: the summed cross-entropy of its counted targets and their number. For language
/// models it runs the head one row at a time through <see cref="ILanguageModelHead"/>, so [batch, seq, vocab] never
/// exists; a row's loss is then the same whatever else is in the batch (right padding, causal attention). Prompt
/// methods prepend virtual positions; labels are aligned to them as in training (<see cref="TaskLoss.AlignToSequence"/>).
/// Inference only: call it under no_grad with the model in eval mode.
/// </summary>
internal static class RowLosses
{
    /// <summary>Per row: (Σ −log p(target), number of targets). Classification rows count one target each.</summary>
    public static (double Sum, long Count)[] Compute(PretrainedModel model, TaskKind kind, ModelInputs inputs, Tensor labels)
    {
        using var scope = NewDisposeScope();
        long rows = labels.shape[0];
        var result = new (double, long)[rows];
        if (kind != TaskKind.SequenceClassification && model is ILanguageModelHead lm)
        {
            var hidden = lm.ForwardHidden(inputs);
            var targets = TaskLoss.TokenTargets(kind, TaskLoss.AlignToSequence(labels, hidden.shape[1]));
            for (long r = 0; r < rows; r++)
            {
                using var rowScope = NewDisposeScope();
                var logits = lm.LanguageModelHead.forward(hidden[r]).to(ScalarType.Float32);
                result[r] = Sum(logits, targets[r]);
            }
            return result;
        }
        var all = model.forward(inputs).Logits ?? throw new PeftException($"{model.ArchitectureName} has no head to evaluate");
        all = all.to(ScalarType.Float32);
        if (kind == TaskKind.SequenceClassification)
        {
            for (long r = 0; r < rows; r++) result[r] = Sum(all[r].unsqueeze(0), labels[r].reshape(1));
            return result;
        }
        var aligned = TaskLoss.TokenTargets(kind, TaskLoss.AlignToSequence(labels, all.shape[1]));
        for (long r = 0; r < rows; r++) result[r] = Sum(all[r], aligned[r]);
        return result;
    }

    private static (double, long) Sum(Tensor logits, Tensor targets)
    {
        long count = targets.ne(TokenizedExample.IgnoreIndex).sum().item<long>();
        if (count == 0) return (0, 0);
        var loss = nn.functional.cross_entropy(logits, targets, ignore_index: TokenizedExample.IgnoreIndex, reduction: nn.Reduction.Sum);
        return (loss.to(ScalarType.Float64).item<double>(), count);
    }
}
