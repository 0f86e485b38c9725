using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Training.Analysis;

/// <summary>One layer's importance: the sum of its candidates' scores and that sum's share of all layers'.</summary>
public sealed record LayerScore(int Layer, double Score, double Share);

/// <summary>
/// What <c>layer_groups: auto</c> resolved to: the groups, and the per-layer scores of the estimator that placed them.
/// Kept in the run folder as layer-groups.json so the report can say why, and a resumed run reads it back instead of
/// analysing again (an analysis on another thread count could round differently and place a layer elsewhere).
/// </summary>
public sealed record LayerGroupPlan(string Estimator, IReadOnlyList<LayerScore> Layers, LayerGroups Groups, string Source)
{
    public const string FileName = "layer-groups.json";

    /// <summary>The report's line: the groups as layer_groups would spell them, and the layers by score.</summary>
    public string Describe() =>
        $"{Groups} by {Estimator} ({Source}); layers by score: " +
        string.Join(", ", Layers.OrderByDescending(l => l.Score).Select(l => $"{l.Layer} ({l.Share.ToString("P1", CultureInfo.InvariantCulture)})"));

    public void Write(string path)
    {
        var json = new JsonObject
        {
            ["estimator"] = Estimator, ["source"] = Source, ["layer_groups"] = Groups.ToString(),
            ["layers"] = new JsonArray(Layers.Select(l => (JsonNode?)new JsonObject { ["layer"] = l.Layer, ["score"] = l.Score, ["share"] = l.Share }).ToArray()),
        };
        AtomicFile.WriteJson(path, json);
    }

    /// <summary>Reads a plan back; a file that is not one (or whose groups do not parse) is one error naming it.</summary>
    public static LayerGroupPlan Read(string path)
    {
        var json = JsonConfig.Load(path);
        if (json.Raw("layers") is not JsonArray items) throw new PeftException($"{path}: \"layers\" must be a list");
        var layers = items.Select((n, i) =>
        {
            var l = n is JsonObject o ? new JsonConfig(o, $"{path} (layers[{i}])") : throw new PeftException($"{path}: \"layers\"[{i}] must be an object");
            return new LayerScore(l.GetInt("layer"), l.GetDouble("score"), l.GetDouble("share"));
        }).ToList();
        LayerGroups groups;
        try
        {
            groups = LayerGroups.Parse(json.GetString("layer_groups")) ?? throw new PeftException("no groups");
        }
        catch (PeftException e)
        {
            throw new PeftException($"{path}: {e.Message}");
        }
        return new LayerGroupPlan(ImportanceEstimator.Named(json.GetString("estimator")).Name, layers, groups, json.GetString("source"));
    }
}
