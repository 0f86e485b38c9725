using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// The data-free score: κ(W) = σ_max / (σ_min + 1e-8) of each weight matrix in its [out, in] orientation, float32
/// singular values, as PEFT's <c>KappaTuneSelector</c> computes it; the score is 1/κ, so a well-conditioned matrix ranks
/// first (KappaTune picks the lowest κ). Matrices with a side longer than 16,384 are skipped, as PEFT does.
/// </summary>
internal static class ConditionNumberScores
{
    public const long MaxSide = 16384;

    /// <summary>Per candidate: (score 1/κ, κ); NaN for candidates that are not weight matrices or are too large.</summary>
    public static (double Score, double Kappa)[] Measure(IReadOnlyList<(ModuleCandidate Candidate, IReadOnlyList<Tensor> Parameters)> candidates,
        Action<int, int>? progress)
    {
        var result = new (double, double)[candidates.Count];
        for (int c = 0; c < candidates.Count; c++)
        {
            result[c] = (double.NaN, double.NaN);
            var (candidate, parameters) = candidates[c];
            if (candidate.Kind != CandidateKind.Linear || candidate.InFeatures > MaxSide || candidate.OutFeatures > MaxSide) continue;
            using var scope = NewDisposeScope();
            using (no_grad())
            {
                var w = parameters[0].detach().to(ScalarType.Float32);
                if (w.shape[0] != candidate.OutFeatures) w = w.t(); // GPT-2's Conv1D stores [in, out]
                var s = linalg.svdvals(w);
                double kappa = s[0].item<float>() / (s[-1].item<float>() + 1e-8);
                result[c] = (1 / kappa, kappa);
            }
            progress?.Invoke(c + 1, candidates.Count);
        }
        return result;
    }
}
