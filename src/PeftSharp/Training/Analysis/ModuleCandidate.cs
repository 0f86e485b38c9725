using System.Globalization;
using PeftSharp.Models;
using PeftSharp.Models.Common;
using PeftSharp.Tuners;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>What a candidate is: a linear layer's weight, a norm (scale and shift), or a linear layer's bias.</summary>
public enum CandidateKind
{
    Linear,
    Norm,
    Bias,
}

/// <summary>
/// One thing an adapter could train, as <c>peft analyze</c> scores it: a linear layer's weight matrix (what LoRA and its
/// family adapt), a LayerNorm/RMSNorm (what LN tuning trains) or a linear layer's bias (what BitFit trains). Its layer is
/// the module path up to the first numbered segment ("encoder.layer.3"), its role the rest ("attention.self.query"), so
/// the same role in different layers lines up in the heatmap; modules outside the numbered stack have no layer.
/// </summary>
public sealed record ModuleCandidate(string Name, CandidateKind Kind, string Layer, int? LayerIndex, string Role, long Parameters,
    long InFeatures, long OutFeatures)
{
    /// <summary>The module's path for target_modules (a bias candidate's is its linear layer's).</summary>
    public string Module => Kind == CandidateKind.Bias ? Name[..^".bias".Length] : Name;

    public static string KindName(CandidateKind kind) => kind switch
    {
        CandidateKind.Linear => "linear",
        CandidateKind.Norm => "norm",
        _ => "bias",
    };

    public static CandidateKind ParseKind(string text, string source) => text switch
    {
        "linear" => CandidateKind.Linear,
        "norm" => CandidateKind.Norm,
        "bias" => CandidateKind.Bias,
        _ => throw new PeftException($"{source}: kind \"{text}\" is not linear, norm or bias"),
    };

    /// <summary>"encoder.layer.3.attention.self.query" → ("encoder.layer.3", 3, "attention.self.query"); no number → ("", null, name).</summary>
    public static (string Layer, int? Index, string Role) SplitName(string name)
    {
        var parts = name.Split('.');
        for (int i = 0; i < parts.Length - 1; i++)
            if (int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                return (string.Join('.', parts[..(i + 1)]), index, string.Join('.', parts[(i + 1)..]));
        return ("", null, name);
    }
}

/// <summary>The candidates of a model, with the parameters each one scores.</summary>
public static class ModuleCandidates
{
    /// <summary>
    /// Every linear layer, norm and linear bias of the model, in module order, except the output head and parameters the
    /// model initialised randomly (a new classifier: it is trained whatever the analysis says). Embeddings are not
    /// candidates: no method here adapts them by default.
    /// </summary>
    public static IReadOnlyList<(ModuleCandidate Candidate, IReadOnlyList<Tensor> Parameters)> Of(PretrainedModel model)
    {
        var head = model.OutputHeadName is { } h ? h + "." : null;
        var fresh = model.FreshParameters.ToHashSet(StringComparer.Ordinal);
        var result = new List<(ModuleCandidate, IReadOnlyList<Tensor>)>();
        foreach (var (name, module) in ModuleTree.NamedModules(model))
        {
            if (name.Length == 0 || head != null && (name + ".").StartsWith(head, StringComparison.Ordinal)) continue;
            if (fresh.Contains(name + ".weight")) continue;
            var (layer, index, role) = ModuleCandidate.SplitName(name);
            if (LinearBase.TryCreate(module) is { } linear)
            {
                result.Add((new ModuleCandidate(name, CandidateKind.Linear, layer, index, role, linear.Weight.numel(), linear.InFeatures, linear.OutFeatures),
                    [linear.Weight]));
                if (linear.Bias is { } bias && !fresh.Contains(name + ".bias"))
                    result.Add((new ModuleCandidate(name + ".bias", CandidateKind.Bias, layer, index, role + ".bias", bias.numel(), 0, linear.OutFeatures), [bias]));
            }
            else if (module is LayerNorm or RmsNorm)
            {
                var parameters = module.named_parameters(recurse: false).Select(p => (Tensor)p.parameter).ToList();
                if (parameters.Count == 0) continue;
                result.Add((new ModuleCandidate(name, CandidateKind.Norm, layer, index, role, parameters.Sum(p => p.numel()), 0, 0), parameters));
            }
        }
        return result;
    }
}
