using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.LoHa;

/// <summary>LoHa's adapter_config.json (PEFT 0.18): rank, alpha, rank and module dropout, targeting, rank/alpha patterns.</summary>
public sealed class LoHaConfig : PeftConfig
{
    public override string PeftType => "LOHA";
    public int R { get; set; } = 8;
    public double Alpha { get; set; } = 8;
    public double RankDropout { get; set; }
    public double ModuleDropout { get; set; }
    public TargetSpec Targets { get; set; } = new();
    /// <summary>true: w2_b = 0 (the identity at start); false: all four factors random (tests).</summary>
    public bool InitWeights { get; set; } = true;
    /// <summary>rank_pattern and alpha_pattern: per-module overrides of r and alpha.</summary>
    public RankAlphaPatterns Patterns { get; set; } = RankAlphaPatterns.Empty;

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat([
        "r", "alpha", "rank_dropout", "module_dropout", "use_effective_conv2d", "target_modules", "exclude_modules",
        "init_weights", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern"]);

    public static LoHaConfig Read(JsonConfig json)
    {
        var c = new LoHaConfig();
        c.ReadCommon(json);
        c.R = json.GetInt("r", 8)!.Value;
        if (c.R <= 0) throw new PeftException($"{json.Source}: \"r\" must be positive, got {c.R}");
        c.Alpha = json.GetDouble("alpha", 8)!.Value;
        c.RankDropout = json.GetDouble("rank_dropout", 0)!.Value;
        c.ModuleDropout = json.GetDouble("module_dropout", 0)!.Value;
        c.Targets = TargetSpec.Read(json);
        c.InitWeights = json.GetBool("init_weights", true);
        c.Patterns = RankAlphaPatterns.Read(json);
        return c;
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
        f["init_weights"] = InitWeights;
        Patterns.Write(f);
    }
}
