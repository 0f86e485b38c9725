using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners;

/// <summary>
/// The fields LoHa and LoKr share (PEFT's LycorisConfig): rank, alpha, rank and module dropout, targeting and
/// rank/alpha patterns. Each method adds its own fields on top.
/// </summary>
public abstract class LycorisConfig : PeftConfig
{
    public int R { get; set; } = 8;
    public double Alpha { get; set; } = 8;
    public double RankDropout { get; set; }
    public double ModuleDropout { get; set; }
    public TargetSpec Targets { get; set; } = new();
    /// <summary>rank_pattern and alpha_pattern: per-module overrides of r and alpha.</summary>
    public RankAlphaPatterns Patterns { get; set; } = RankAlphaPatterns.Empty;

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat([
        "r", "alpha", "rank_dropout", "module_dropout", "use_effective_conv2d", "target_modules", "exclude_modules",
        "init_weights", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern"]);

    protected void ReadLycoris(JsonConfig json)
    {
        ReadCommon(json);
        R = json.GetInt("r", 8)!.Value;
        if (R <= 0) throw new PeftException($"{json.Source}: \"r\" must be positive, got {R}");
        Alpha = json.GetDouble("alpha", 8)!.Value;
        RankDropout = json.GetDouble("rank_dropout", 0)!.Value;
        ModuleDropout = json.GetDouble("module_dropout", 0)!.Value;
        Targets = TargetSpec.Read(json);
        Patterns = RankAlphaPatterns.Read(json);
    }

    public (int Rank, double Alpha) For(string moduleName) => Patterns.For(moduleName, R, Alpha);

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        Targets.Write(f);
        f["r"] = R;
        f["alpha"] = RankAlphaPatterns.Number(Alpha);
        f["rank_dropout"] = RankDropout;
        f["module_dropout"] = ModuleDropout;
        f["use_effective_conv2d"] = false;
        Patterns.Write(f);
    }
}
