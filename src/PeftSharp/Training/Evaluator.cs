using PeftSharp.Data;
using PeftSharp.Evaluation.Metrics;
using PeftSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Validation metrics of a model on batches: the loss (weighted by counted targets) and, per task,
/// accuracy, macro F1 and Matthews correlation (classification) or perplexity (language modelling).
/// Used during training (best checkpoint, early stopping) and by <c>peft eval</c>.
/// </summary>
public static class Evaluator
{
    /// <summary>
    /// Metrics over every batch. A cancelled <paramref name="cancellation"/> is honoured between batches (Ctrl-C finishes
    /// the batch under way, then throws <see cref="OperationCanceledException"/>: metrics of part of the data would mislead).
    /// </summary>
    public static Dictionary<string, double> Evaluate(PretrainedModel model, TaskKind kind, IEnumerable<Batch> batches, Device device,
        CancellationToken cancellation = default)
    {
        using var inference = InferenceScope.Enter(model);
        double lossSum = 0;
        long count = 0;
        var truth = new List<long>();
        var predicted = new List<long>();
        foreach (var batch in batches)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var tensors = batch.ToTensors(device);
            var logits = model.forward(tensors.Inputs).Logits ?? throw new PeftException($"{model.ArchitectureName} has no head to evaluate");
            var (loss, n) = TaskLoss.Compute(kind, logits, tensors.Labels);
            if (n == 0) continue;
            lossSum += loss.item<float>() * n;
            count += n;
            if (kind == TaskKind.SequenceClassification)
            {
                predicted.AddRange(logits.argmax(-1).cpu().data<long>().ToArray());
                truth.AddRange(batch.Labels);
            }
        }
        if (count == 0) throw new PeftException("validation data has no examples to evaluate");
        var metrics = new Dictionary<string, double> { ["loss"] = lossSum / count };
        if (kind == TaskKind.SequenceClassification)
        {
            var report = Classification.Report(truth, predicted);
            metrics["accuracy"] = report.Accuracy;
            metrics["f1"] = report.MacroF1;
            metrics["mcc"] = report.MatthewsCorrelation;
        }
        else
        {
            metrics["perplexity"] = Perplexity.FromSummed(lossSum, count);
        }
        return metrics;
    }

    /// <summary>The metric that decides "best" when the user says auto: accuracy for classification, else loss.</summary>
    public static string DefaultMetric(TaskKind kind) => kind == TaskKind.SequenceClassification ? "accuracy" : "loss";

    public static bool HigherIsBetter(string metric) => metric is "accuracy" or "f1" or "mcc";
}
