using PeftSharp.Data;
using PeftSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// The two gradient estimators in one pass over the sample. Sensitivity of module m:
/// <c>S(m) = Σ_{p ∈ m} |w_p · ḡ_p|</c>, ḡ the mean gradient of the task loss over the whole sample (batches averaged
/// before the absolute value: taking |w·g| batch by batch, as AdaLoRA's running EMA does, keeps each batch's noise, which
/// then outweighs the signal on a small model; averaged first, the noise falls as the sample grows). Its spread is how
/// far the two halves of the sample (even and odd batches) disagree: |S_even - S_odd| / (S_even + S_odd). Diagonal
/// empirical Fisher: <c>F(m) = (1/N) Σ_i Σ_{p ∈ m} g_{i,p}²</c>, g_i the gradient of example i alone (a batch gradient
/// squared would be the square of a mean, not the mean of squares). With the Fisher asked for, every example is its own
/// backward pass; without it, whole batches are.
/// </summary>
internal static class GradientScores
{
    /// <summary>Per candidate: sensitivity (null when not asked), its split-half spread, Fisher (null when not asked).</summary>
    public sealed record Result(double[]? Sensitivity, double[]? Spread, double[]? Fisher);

    /// <summary>A rooted 1, so the native call never sees a Scalar the GC could finalise under it.</summary>
    private static readonly Scalar One = 1.0;

    public static Result Measure(PretrainedModel model, TaskKind kind, IReadOnlyList<TokenizedExample> sample, Collator collator,
        IReadOnlyList<(ModuleCandidate Candidate, IReadOnlyList<Tensor> Parameters)> candidates, bool sensitivity, bool fisher,
        int batchSize, Device device, Action<int, int>? progress)
    {
        model.eval(); // dropout off: the model is measured as it is, and the same seed gives the same scores
        var parameters = candidates.SelectMany(c => c.Parameters).Distinct().ToList();
        foreach (var p in model.parameters()) p.requires_grad = false;
        foreach (var p in parameters) p.requires_grad = true;

        int n = candidates.Count;
        var fisherSum = new double[n];
        // Σ of the example (or batch) gradients of the even and the odd batches of the sample
        var halves = new[] { parameters.ToDictionary(p => p, p => zeros_like(p)), parameters.ToDictionary(p => p, p => zeros_like(p)) };
        var counts = new long[2];
        int micro = fisher ? 1 : batchSize;
        var loader = new DataLoader(sample, collator, micro, 0, shuffle: false);
        int done = 0;
        try
        {
            foreach (var batch in loader.Epoch(0))
            {
                int half = done / batchSize % 2;
                using (var scope = NewDisposeScope())
                {
                    using var tensors = batch.ToTensors(device);
                    TrainingStep.ForwardBackward(model, kind, tensors, batch.Size);
                    for (int c = 0; c < n; c++)
                        foreach (var p in candidates[c].Parameters)
                        {
                            if (p.grad is not { } g) continue;
                            if (fisher) fisherSum[c] += g.square().sum().item<float>();
                            halves[half][p].add_(g, One);
                        }
                    foreach (var p in parameters) p.grad?.zero_();
                }
                counts[half] += batch.Size;
                done += batch.Size;
                progress?.Invoke(done, sample.Count);
            }

            double[]? score = null, spread = null;
            if (sensitivity)
            {
                score = new double[n];
                spread = new double[n];
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                for (int c = 0; c < n; c++)
                {
                    double even = 0, odd = 0, all = 0;
                    foreach (var p in candidates[c].Parameters)
                    {
                        var w = p.detach();
                        even += counts[0] > 0 ? w.mul(halves[0][p]).abs().sum().item<float>() / counts[0] : 0;
                        odd += counts[1] > 0 ? w.mul(halves[1][p]).abs().sum().item<float>() / counts[1] : 0;
                        all += w.mul(halves[0][p].add(halves[1][p], One)).abs().sum().item<float>() / (counts[0] + counts[1]);
                    }
                    score[c] = all;
                    spread[c] = counts[1] > 0 && even + odd > 0 ? Math.Abs(even - odd) / (even + odd) : double.NaN;
                }
            }
            return new Result(score, spread, fisher ? fisherSum.Select(f => f / sample.Count).ToArray() : null);
        }
        finally
        {
            foreach (var h in halves) foreach (var s in h.Values) s.Dispose();
            foreach (var p in parameters) p.requires_grad = false;
        }
    }
}
