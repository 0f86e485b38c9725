using PeftSharp.Data;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// What a model did with one example: for classification the class it chose and how sure it was, for every task the
/// summed loss of the example's targets and their number. <see cref="Origin"/> is the record's file:line, to show it.
/// </summary>
public sealed record ExampleOutcome(string Origin, long? Truth, long? Predicted, double Confidence, double LossSum, long Targets)
{
    public bool? Correct => Truth is { } t && Predicted is { } p ? t == p : null;

    /// <summary>The example's mean loss per target.</summary>
    public double Loss => Targets == 0 ? 0 : LossSum / Targets;

    /// <summary>Every example's outcome, in order, in eval mode and without gradients.</summary>
    public static IReadOnlyList<ExampleOutcome> Evaluate(PretrainedModel model, TaskKind kind, IReadOnlyList<TokenizedExample> examples, Collator collator,
        int batchSize, Device device, CancellationToken cancellation = default)
    {
        using var inference = InferenceScope.Enter(model);
        var outcomes = new List<ExampleOutcome>(examples.Count);
        foreach (var batch in new DataLoader(examples, collator, batchSize, 0, shuffle: false).Epoch(0))
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var tensors = batch.ToTensors(device);
            if (kind == TaskKind.SequenceClassification)
            {
                var logits = (model.forward(tensors.Inputs).Logits ?? throw new PeftException($"{model.ArchitectureName} has no head to evaluate")).to(ScalarType.Float32);
                var losses = nn.functional.cross_entropy(logits, tensors.Labels, reduction: nn.Reduction.None).to(ScalarType.Float64).cpu().data<double>().ToArray();
                var (confidence, predicted) = nn.functional.softmax(logits, -1).max(-1);
                var p = predicted.cpu().data<long>().ToArray();
                var c = confidence.to(ScalarType.Float64).cpu().data<double>().ToArray();
                for (int i = 0; i < batch.Size; i++)
                    outcomes.Add(new ExampleOutcome(batch.Origins[i], batch.Labels[i], p[i], c[i], losses[i], 1));
            }
            else
            {
                var rows = RowLosses.Compute(model, kind, tensors.Inputs, tensors.Labels);
                for (int i = 0; i < batch.Size; i++) outcomes.Add(new ExampleOutcome(batch.Origins[i], null, null, 0, rows[i].Sum, rows[i].Count));
            }
        }
        return outcomes;
    }

    /// <summary>The set's metrics from its outcomes: accuracy and loss (classification), loss and perplexity weighted by targets (else).</summary>
    public static Dictionary<string, double> Metrics(IReadOnlyList<ExampleOutcome> outcomes)
    {
        if (outcomes.Count == 0) return [];
        long targets = outcomes.Sum(o => o.Targets);
        double loss = targets == 0 ? 0 : outcomes.Sum(o => o.LossSum) / targets;
        if (outcomes[0].Truth != null)
            return new() { ["accuracy"] = outcomes.Count(o => o.Correct == true) / (double)outcomes.Count, ["loss"] = loss };
        return new() { ["loss"] = loss, ["perplexity"] = Math.Exp(loss) };
    }
}
