using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Tuners;

namespace PeftSharp.Training.Analysis;

/// <summary>One chosen module: its rank, the parameters it costs and the score that chose it.</summary>
public sealed record ChosenModule(string Name, int Rank, long Parameters, double Score, double Share);

/// <summary>
/// What <c>target_modules: auto</c> resolved to: the modules and their ranks, within the budget, and from which
/// estimator's scores. The adapter's config holds the plain result (target_modules as a list, rank_pattern and
/// alpha_pattern), so Python PEFT loads it; this record, kept in the run folder as auto-targets.json, says why, and a
/// resumed run reads it back instead of choosing again.
/// </summary>
public sealed record AutoTargetPlan(string Estimator, long Budget, int BaseRank, double BaseAlpha, IReadOnlyList<ChosenModule> Chosen, string Source)
{
    public const string FileName = "auto-targets.json";

    public long Used => Chosen.Sum(c => c.Parameters);

    public TargetSpec Targets => new() { TargetList = Chosen.Select(c => c.Name).ToList() };

    /// <summary>rank_pattern for modules whose rank is not the config's r; alpha_pattern keeps alpha / r as the run's (so every module's update is scaled alike).</summary>
    public RankAlphaPatterns Patterns
    {
        get
        {
            var other = Chosen.Where(c => c.Rank != BaseRank).ToList();
            return new RankAlphaPatterns(other.ToDictionary(c => c.Name, c => (double)c.Rank), other.ToDictionary(c => c.Name, c => BaseAlpha * c.Rank / BaseRank));
        }
    }

    /// <summary>The run report's line: how many modules, how much of the budget, and the first few with their shares and ranks.</summary>
    public string Describe(int top = 5) =>
        $"{Chosen.Count} modules by {Estimator} ({Source}), {NumberText.Count(Used)} of {NumberText.Count(Budget)} parameters; top: " +
        string.Join(", ", Chosen.OrderByDescending(c => c.Score).Take(top).Select(c => $"{c.Name} ({c.Share.ToString("P1", CultureInfo.InvariantCulture)}, r={c.Rank})"));

    public void Write(string path)
    {
        var json = new JsonObject
        {
            ["estimator"] = Estimator, ["budget"] = Budget, ["base_rank"] = BaseRank, ["base_alpha"] = BaseAlpha, ["source"] = Source, ["used"] = Used,
            ["modules"] = new JsonArray(Chosen.Select(c => (JsonNode?)new JsonObject
            {
                ["name"] = c.Name, ["rank"] = c.Rank, ["parameters"] = c.Parameters, ["score"] = c.Score, ["share"] = c.Share,
            }).ToArray()),
        };
        AtomicFile.WriteJson(path, json);
    }

    public static AutoTargetPlan Read(string path)
    {
        var json = JsonConfig.Load(path);
        if (json.Raw("modules") is not JsonArray items) throw new PeftException($"{path}: \"modules\" must be a list");
        var chosen = items.Select((n, i) =>
        {
            var m = n is JsonObject o ? new JsonConfig(o, $"{path} (modules[{i}])") : throw new PeftException($"{path}: \"modules\"[{i}] must be an object");
            int rank = m.GetInt("rank");
            if (rank < 1) throw new PeftException($"{m.Source}: \"rank\" must be at least 1");
            return new ChosenModule(m.GetString("name"), rank, m.GetLong("parameters", 0) ?? 0, m.GetDouble("score"), m.GetDouble("share"));
        }).ToList();
        if (chosen.Count == 0) throw new PeftException($"{path}: no modules");
        int baseRank = json.GetInt("base_rank");
        if (baseRank < 1) throw new PeftException($"{path}: \"base_rank\" must be at least 1");
        return new AutoTargetPlan(ImportanceEstimator.Named(json.GetString("estimator")).Name, json.GetLong("budget", 0) ?? 0, baseRank,
            json.GetDouble("base_alpha"), chosen, json.GetString("source"));
    }
}
