using PeftSharp.Data;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Forward and backward of one micro-batch. Language-model losses on a model with a separable head
/// (<see cref="ILanguageModelHead"/>) are computed a slice of positions at a time: the body runs once, each
/// slice's logits and loss are made, back-propagated into the detached hidden states and freed, and the
/// summed gradient then flows back through the body. Same gradients, without ever holding [batch, seq, vocab].
/// </summary>
public static class TrainingStep
{
    /// <summary>Bytes of logits one slice may hold.</summary>
    public const long DefaultSliceBytes = 32L * 1024 * 1024;

    /// <summary>Runs forward and backward (gradients scaled by <paramref name="scale"/>); returns the mean loss.</summary>
    public static double ForwardBackward(PretrainedModel model, TaskKind kind, BatchTensors batch, double scale, long sliceBytes = DefaultSliceBytes)
    {
        if (kind != TaskKind.SequenceClassification && model is ILanguageModelHead lm)
            return SlicedLanguageModel(lm, kind, batch, scale, sliceBytes);
        var logits = model.forward(batch.Inputs).Logits ?? throw new PeftException($"{model.ArchitectureName} has no head to train");
        var (loss, _) = TaskLoss.Compute(kind, logits, batch.Labels);
        loss.mul(scale).backward();
        return loss.item<float>();
    }

    private static double SlicedLanguageModel(ILanguageModelHead lm, TaskKind kind, BatchTensors batch, double scale, long sliceBytes)
    {
        var hidden = lm.ForwardHidden(batch.Inputs);
        var labels = kind == TaskKind.CausalLm
            ? cat([batch.Labels[.., 1..], full(batch.Labels.shape[0], 1, TokenizedExample.IgnoreIndex, dtype: batch.Labels.dtype, device: batch.Labels.device)], 1)
            : batch.Labels;
        var flatLabels = labels.reshape(-1);
        long count = flatLabels.ne(TokenizedExample.IgnoreIndex).sum().item<long>();
        if (count == 0) return 0;

        var detached = hidden.detach();
        detached.requires_grad = true;
        var rows = detached.reshape(-1, detached.shape[^1]);
        var head = lm.LanguageModelHead;
        long vocabulary;
        using (no_grad())
        using (NewDisposeScope())
            vocabulary = head.forward(rows[0..1]).shape[^1];
        long slice = Math.Max(1, sliceBytes / (4 * vocabulary));
        double lossSum = 0;
        for (long start = 0; start < rows.shape[0]; start += slice)
        {
            using var scope = NewDisposeScope();
            long end = Math.Min(rows.shape[0], start + slice);
            var logits = head.forward(rows.narrow(0, start, end - start)).to(ScalarType.Float32);
            var loss = nn.functional.cross_entropy(logits, flatLabels.narrow(0, start, end - start), ignore_index: TokenizedExample.IgnoreIndex, reduction: nn.Reduction.Sum);
            lossSum += loss.item<float>();
            loss.mul(scale / count).backward();
        }
        if (hidden.requires_grad && detached.grad is { } grad) hidden.backward([grad]);
        return lossSum / count;
    }
}
