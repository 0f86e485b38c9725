namespace PeftSharp.Training.Analysis;

/// <summary>
/// One way of scoring candidates, as <c>peft analyze --help</c>, the README and analysis.json describe it: what it measures,
/// on which candidates, and the paper it comes from. Higher scores mean "train this first" for every estimator.
/// </summary>
public sealed record ImportanceEstimator(string Name, string Title, string Measures, string Paper, bool NeedsData, bool MatricesOnly)
{
    public const string Sensitivity = "sensitivity";
    public const string Fisher = "fisher";
    public const string LoraDrop = "lora-drop";
    public const string Kappa = "kappa";

    public static IReadOnlyList<ImportanceEstimator> All { get; } =
    [
        new(Sensitivity, "weight x gradient sensitivity",
            "sum over the module's parameters of |w * dL/dw|, dL/dw the mean gradient of the task loss over the sample (the first-order estimate of how much " +
            "the task loss changes if w is removed); spread = how far the two halves of the sample disagree",
            "Molchanov et al. 2019, Importance Estimation for Neural Network Pruning; Lee et al. 2019, SNIP; Zhang et al. 2023, AdaLoRA", true, false),
        new(Fisher, "diagonal empirical Fisher information",
            "sum over the module's parameters of the mean over examples of (dL/dw)^2, one example at a time (the diagonal of the empirical Fisher)",
            "Sung et al. 2021, Training Neural Networks with Fixed Sparse Masks (FISH mask)", true, false),
        new(LoraDrop, "LoRA warm-up output contribution",
            "a short LoRA warm-up on every linear layer, then the sum over the sample's tokens of ||delta_W x||^2 of each layer",
            "Zhou et al. 2024, LoRA-drop: Efficient LoRA Parameter Pruning based on Output Evaluation", true, true),
        new(Kappa, "inverse condition number (data-free)",
            "1 / kappa, kappa = largest / smallest singular value of the weight matrix: well-conditioned matrices are the safer targets (PEFT's find_kappa_target_modules)",
            "KappaTune (PEFT 0.18 helpers.find_kappa_target_modules): condition-number-guided target selection", false, true),
    ];

    public static ImportanceEstimator Named(string name) => All.FirstOrDefault(e => e.Name == name)
        ?? throw new PeftException($"estimator \"{name}\" is not one of {string.Join(", ", All.Select(e => e.Name))}");

    public System.Text.Json.Nodes.JsonObject ToJson() => new() { ["name"] = Name, ["title"] = Title, ["measures"] = Measures, ["paper"] = Paper };

    /// <summary>Does this estimator score candidates of this kind? LoRA-drop and kappa score weight matrices only.</summary>
    public bool Scores(CandidateKind kind) => !MatricesOnly || kind == CandidateKind.Linear;
}

/// <summary>The estimator names, as the choices of target_estimator.</summary>
public sealed class EstimatorNames : Options.IChoices
{
    public IReadOnlyList<string> Values => ImportanceEstimator.All.Select(e => e.Name).ToList();
}
