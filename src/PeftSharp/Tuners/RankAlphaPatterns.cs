using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners;

/// <summary>
/// rank_pattern and alpha_pattern as LoRA, LoHa and LoKr configs hold them: regex keys matched against the end of a
/// module name (PEFT's get_pattern_key) overriding the config's r and alpha for that module.
/// </summary>
public sealed record RankAlphaPatterns(IReadOnlyDictionary<string, double> Rank, IReadOnlyDictionary<string, double> Alpha)
{
    public static RankAlphaPatterns Empty { get; } = new(new Dictionary<string, double>(), new Dictionary<string, double>());

    public static RankAlphaPatterns Read(JsonConfig json) => new(json.GetNumberMap("rank_pattern"), json.GetNumberMap("alpha_pattern"));

    public (int Rank, double Alpha) For(string moduleName, int r, double alpha) =>
        (TargetSelector.PatternKey(Rank.Keys, moduleName) is { } rk ? (int)Rank[rk] : r,
         TargetSelector.PatternKey(Alpha.Keys, moduleName) is { } ak ? Alpha[ak] : alpha);

    public void Write(IDictionary<string, JsonNode?> fields)
    {
        fields["rank_pattern"] = Map(Rank, integers: true);
        fields["alpha_pattern"] = Map(Alpha, integers: false);
    }

    /// <summary>A number as PEFT writes it: an integer when it is one.</summary>
    public static JsonNode Number(double v) => v == Math.Floor(v) ? JsonValue.Create((long)v) : JsonValue.Create(v);

    private static JsonObject Map(IReadOnlyDictionary<string, double> map, bool integers)
    {
        var o = new JsonObject();
        foreach (var (k, v) in map) o[k] = integers ? JsonValue.Create((long)v) : Number(v);
        return o;
    }
}
