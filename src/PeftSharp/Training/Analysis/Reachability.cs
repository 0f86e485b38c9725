using PeftSharp.Data;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// Which candidates the task loss depends on at all: one backward pass on a batch of the sample, and a candidate none of
/// whose parameters receives a nonzero gradient is unreachable (BERT's pooler under mean pooling, a decoder's cross-
/// attention on a causal task). No estimator scores those, so a data-free score cannot spend a budget on a module the
/// forward pass never uses.
/// </summary>
internal static class Reachability
{
    public static bool[] Reached(PretrainedModel model, TaskKind kind, IReadOnlyList<TokenizedExample> sample, Collator collator,
        IReadOnlyList<(ModuleCandidate Candidate, IReadOnlyList<Tensor> Parameters)> candidates, int batchSize, Device device)
    {
        model.eval();
        var parameters = candidates.SelectMany(c => c.Parameters).Distinct().ToList();
        foreach (var p in model.parameters()) p.requires_grad = false;
        foreach (var p in parameters) p.requires_grad = true;
        try
        {
            using var scope = NewDisposeScope();
            using var tensors = collator.Collate(sample.Take(batchSize).ToList()).ToTensors(device);
            TrainingStep.ForwardBackward(model, kind, tensors, 1.0);
            return candidates.Select(c => c.Parameters.Any(p => p.grad is { } g && g.abs().max().item<float>() > 0)).ToArray();
        }
        finally
        {
            foreach (var p in parameters)
            {
                p.grad?.zero_();
                p.requires_grad = false;
            }
        }
    }
}
