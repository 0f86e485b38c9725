using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Training.Analysis;

/// <summary>One estimator's verdict on one candidate. Rank 1 is the most important; share is of the estimator's total.</summary>
/// <param name="Spread">Sensitivity: how far the two halves of the sample disagree, |S_even - S_odd| / (S_even + S_odd) (how settled the score is).</param>
/// <param name="Raw">Kappa: the condition number itself (the score is its inverse).</param>
public sealed record ModuleScore(double Score, double Share, int Rank, double? Spread = null, double? Raw = null);

/// <summary>A candidate with the scores of every estimator that scores its kind.</summary>
public sealed record AnalyzedModule(ModuleCandidate Candidate, IReadOnlyDictionary<string, ModuleScore> Scores);

/// <summary>
/// What <c>peft analyze</c> found, as analysis.json holds it for other commands (<c>peft train --target-modules auto</c>)
/// to read: the run's inputs (model, data, task, seed, settings), notes on the warm-ups, and every candidate with its
/// scores. Read back as an untrusted file: each field is checked, and an error names the file and the key.
/// </summary>
public sealed record AnalysisResult
{
    public const string Format = "peftsharp-module-analysis";
    public const int Version = 1;
    public const string FileName = "analysis.json";

    public required string Model { get; init; }
    public required string Data { get; init; }
    public required string Task { get; init; }
    public required long Seed { get; init; }
    public required int Samples { get; init; }
    public required IReadOnlyList<string> Estimators { get; init; }
    public required IReadOnlyList<AnalyzedModule> Modules { get; init; }
    /// <summary>What happened before the measurements, in words (the head fit's loss, the warm-up's).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The modules an estimator scored, most important first.</summary>
    public IReadOnlyList<AnalyzedModule> Ranked(string estimator) =>
        Modules.Where(m => m.Scores.ContainsKey(estimator)).OrderBy(m => m.Scores[estimator].Rank).ToList();

    /// <summary>Ranks and shares from raw scores (NaN = not scored): higher first, ties by module order, so a seed gives one order.</summary>
    public static IReadOnlyList<(int Index, ModuleScore Score)> Rank(IReadOnlyList<double> scores, IReadOnlyList<double?>? spread = null, IReadOnlyList<double?>? raw = null)
    {
        var scored = Enumerable.Range(0, scores.Count).Where(i => double.IsFinite(scores[i])).ToList();
        double total = scored.Sum(i => scores[i]);
        return scored.OrderByDescending(i => scores[i]).ThenBy(i => i)
            .Select((i, r) => (i, new ModuleScore(scores[i], total > 0 ? scores[i] / total : 0, r + 1, spread?[i], raw?[i]))).ToList();
    }

    public JsonObject ToJson()
    {
        var modules = new JsonArray();
        foreach (var m in Modules)
        {
            var c = m.Candidate;
            var scores = new JsonObject();
            foreach (var (name, s) in m.Scores)
            {
                var o = new JsonObject { ["score"] = s.Score, ["share"] = s.Share, ["rank"] = s.Rank };
                if (s.Spread is { } spread) o["spread"] = spread;
                if (s.Raw is { } raw) o["kappa"] = raw;
                scores[name] = o;
            }
            modules.Add(new JsonObject
            {
                ["name"] = c.Name, ["kind"] = ModuleCandidate.KindName(c.Kind), ["layer"] = c.Layer, ["layer_index"] = c.LayerIndex, ["role"] = c.Role,
                ["parameters"] = c.Parameters, ["in_features"] = c.InFeatures, ["out_features"] = c.OutFeatures, ["scores"] = scores,
            });
        }
        return new JsonObject
        {
            ["format"] = Format, ["version"] = Version, ["model"] = Model, ["data"] = Data, ["task"] = Task, ["seed"] = Seed, ["samples"] = Samples,
            ["estimators"] = new JsonArray(Estimators.Select(e => (JsonNode?)ImportanceEstimator.Named(e).ToJson()).ToArray()),
            ["notes"] = new JsonArray(Notes.Select(n => (JsonNode?)n).ToArray()),
            ["modules"] = modules,
        };
    }

    public void Write(string path) => AtomicFile.WriteJson(path, ToJson());

    /// <summary>Reads analysis.json (or a folder holding it).</summary>
    public static AnalysisResult Read(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, FileName);
        if (!File.Exists(path)) throw new PeftException($"{path}: no such analysis file (write one with peft analyze)");
        var json = JsonConfig.Load(path);
        if (json.GetString("format", null) != Format) throw new PeftException($"{path}: \"format\" is not \"{Format}\": not a peft analyze result");
        if (json.GetInt("version") != Version) throw new PeftException($"{path}: \"version\" {json.GetInt("version")} is not {Version}, the version this PeftSharp reads");
        var estimators = new List<string>();
        if (json.Raw("estimators") is not JsonArray list) throw new PeftException($"{path}: \"estimators\" must be a list");
        foreach (var (node, i) in list.Select((n, i) => (n, i)))
        {
            var name = node is JsonObject o ? new JsonConfig(o, $"{path} (estimators[{i}])").GetString("name") : throw new PeftException($"{path}: \"estimators\"[{i}] must be an object");
            estimators.Add(ImportanceEstimator.All.Any(e => e.Name == name) ? name : throw new PeftException($"{path}: \"estimators\"[{i}]: unknown estimator \"{name}\""));
        }
        if (json.Raw("modules") is not JsonArray items) throw new PeftException($"{path}: \"modules\" must be a list");
        var modules = new List<AnalyzedModule>();
        foreach (var (node, i) in items.Select((n, i) => (n, i)))
        {
            var where = $"{path} (modules[{i}])";
            if (node is not JsonObject o) throw new PeftException($"{path}: \"modules\"[{i}] must be an object");
            var m = new JsonConfig(o, where);
            long parameters = m.GetLong("parameters", null) is { } p and >= 0 ? p : throw new PeftException($"{where}: \"parameters\" must be a count");
            long inFeatures = m.GetLong("in_features", 0) is { } a and >= 0 ? a : throw new PeftException($"{where}: \"in_features\" must not be negative");
            long outFeatures = m.GetLong("out_features", 0) is { } b and >= 0 ? b : throw new PeftException($"{where}: \"out_features\" must not be negative");
            var candidate = new ModuleCandidate(m.GetString("name"), ModuleCandidate.ParseKind(m.GetString("kind"), where), m.GetString("layer", "")!,
                m.GetInt("layer_index", null), m.GetString("role"), parameters, inFeatures, outFeatures);
            var scores = new Dictionary<string, ModuleScore>(StringComparer.Ordinal);
            var scoreObject = m.GetObject("scores") ?? throw new PeftException($"{where}: \"scores\" is missing");
            foreach (var estimator in estimators)
            {
                if (scoreObject.GetObject(estimator) is not { } s) continue;
                int rank = s.GetInt("rank");
                if (rank < 1) throw new PeftException($"{s.Source}: \"rank\" must be at least 1");
                double score = s.GetDouble("score");
                if (!double.IsFinite(score)) throw new PeftException($"{s.Source}: \"score\" must be a finite number");
                scores[estimator] = new ModuleScore(score, s.GetDouble("share"), rank, s.GetDouble("spread", null), s.GetDouble("kappa", null));
            }
            modules.Add(new AnalyzedModule(candidate, scores));
        }
        return new AnalysisResult
        {
            Model = json.GetString("model"), Data = json.GetString("data"), Task = json.GetString("task"), Seed = json.GetLong("seed", 0) ?? 0,
            Samples = json.GetInt("samples"), Estimators = estimators, Modules = modules, Notes = json.GetStringList("notes") ?? [],
        };
    }
}
