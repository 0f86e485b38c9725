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
    /// <param name="checkpointLayers">Keep only each layer's input and recompute the layer during backward
    /// (models implementing <see cref="ILayeredModel"/>): much less memory for one more forward pass.</param>
    public static double ForwardBackward(PretrainedModel model, TaskKind kind, BatchTensors batch, double scale,
        long sliceBytes = DefaultSliceBytes, bool checkpointLayers = false)
    {
        if (kind != TaskKind.SequenceClassification && model is ILanguageModelHead lm)
            return checkpointLayers && model is ILayeredModel layered
                ? CheckpointedLanguageModel(lm, layered, kind, batch, scale, sliceBytes)
                : SlicedLanguageModel(lm, kind, batch, scale, sliceBytes);
        var logits = model.forward(batch.Inputs).Logits ?? throw new PeftException($"{model.ArchitectureName} has no head to train");
        var (loss, _) = TaskLoss.Compute(kind, logits, batch.Labels);
        loss.mul(scale).backward();
        return loss.item<float>();
    }

    private static double SlicedLanguageModel(ILanguageModelHead lm, TaskKind kind, BatchTensors batch, double scale, long sliceBytes)
    {
        var hidden = lm.ForwardHidden(batch.Inputs);
        var detached = hidden.detach();
        detached.requires_grad = true;
        double loss = HeadLossBackward(lm, kind, batch, detached, scale, sliceBytes);
        if (hidden.requires_grad && detached.grad is { } grad) hidden.backward([grad]);
        return loss;
    }

    /// <summary>
    /// Gradient checkpointing: a no-grad pass keeps each layer's input and the random state it started with;
    /// backward then recomputes the layers last to first with the same dropout masks, one layer's graph at a time.
    /// </summary>
    private static double CheckpointedLanguageModel(ILanguageModelHead lm, ILayeredModel layered, TaskKind kind, BatchTensors batch, double scale, long sliceBytes)
    {
        var pass = layered.BeginLayers(batch.Inputs);
        var inputs = new Tensor[pass.Count];
        var rng = new Tensor[pass.Count];
        var hidden = pass.Hidden;
        using (no_grad())
        {
            for (int i = 0; i < pass.Count; i++)
            {
                inputs[i] = hidden.detach();
                rng[i] = get_rng_state();
                hidden = pass.ScopedLayer(i, hidden);
            }
        }
        var afterForward = get_rng_state();

        var top = hidden.detach();
        top.requires_grad = true;
        var final = pass.Finish(top);
        var finalDetached = final.detach();
        finalDetached.requires_grad = true;
        double loss = HeadLossBackward(lm, kind, batch, finalDetached, scale, sliceBytes);
        if (finalDetached.grad is not { } headGrad) return loss;
        final.backward([headGrad]);
        var grad = top.grad;

        for (int i = pass.Count - 1; i >= 0 && grad is not null; i--)
        {
            using var scope = NewDisposeScope();
            var x = inputs[i].detach();
            x.requires_grad = true;
            set_rng_state(rng[i]);
            var y = pass.Layer(i, x);
            y.backward([grad]);
            grad = x.grad?.MoveToOuterDisposeScope();
        }
        set_rng_state(afterForward);
        if (pass.Hidden.requires_grad && grad is not null) pass.Hidden.backward([grad]);
        return loss;
    }

    /// <summary>The head and its loss a slice of positions at a time; gradients land in hidden.grad (and the head's parameters).</summary>
    private static double HeadLossBackward(ILanguageModelHead lm, TaskKind kind, BatchTensors batch, Tensor hidden, double scale, long sliceBytes)
    {
        var flatLabels = TaskLoss.TokenTargets(kind, TaskLoss.AlignToSequence(batch.Labels, hidden.shape[1])).reshape(-1);
        long count = flatLabels.ne(TokenizedExample.IgnoreIndex).sum().item<long>();
        if (count == 0) return 0;

        var rows = hidden.reshape(-1, hidden.shape[^1]);
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
        return lossSum / count;
    }
}
