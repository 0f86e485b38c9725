using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.LoKr;

/// <summary>LoKr's adapter_config.json (PEFT 0.18): rank, alpha, Kronecker factorisation options, dropouts, targeting, patterns.</summary>
public sealed class LoKrConfig : PeftConfig
{
    public override string PeftType => "LOKR";
    public int R { get; set; } = 8;
    public double Alpha { get; set; } = 8;
    public double RankDropout { get; set; }
    public double ModuleDropout { get; set; }
    public bool RankDropoutScale { get; set; }
    /// <summary>Also split the first (small) Kronecker factor into two low-rank matrices.</summary>
    public bool DecomposeBoth { get; set; }
    /// <summary>-1: factor dimensions near their square root; otherwise a divisor to aim for.</summary>
    public int DecomposeFactor { get; set; } = -1;
    public TargetSpec Targets { get; set; } = new();
    /// <summary>"true" (first factor zero: the identity), "false" (all random, tests) or "lycoris" (second factor zero).</summary>
    public string InitWeights { get; set; } = "true";
    /// <summary>rank_pattern and alpha_pattern: per-module overrides of r and alpha.</summary>
    public RankAlphaPatterns Patterns { get; set; } = RankAlphaPatterns.Empty;

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat([
        "r", "alpha", "rank_dropout", "module_dropout", "rank_dropout_scale", "use_effective_conv2d", "decompose_both", "decompose_factor",
        "target_modules", "exclude_modules", "init_weights", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern"]);

    public static LoKrConfig Read(JsonConfig json)
    {
        var c = new LoKrConfig();
        c.ReadCommon(json);
        c.R = json.GetInt("r", 8)!.Value;
        if (c.R <= 0) throw new PeftException($"{json.Source}: \"r\" must be positive, got {c.R}");
        c.Alpha = json.GetDouble("alpha", 8)!.Value;
        c.RankDropout = json.GetDouble("rank_dropout", 0)!.Value;
        c.ModuleDropout = json.GetDouble("module_dropout", 0)!.Value;
        c.RankDropoutScale = json.GetBool("rank_dropout_scale", false);
        c.DecomposeBoth = json.GetBool("decompose_both", false);
        c.DecomposeFactor = json.GetInt("decompose_factor", -1)!.Value;
        c.Targets = TargetSpec.Read(json);
        c.InitWeights = json.Raw("init_weights") switch
        {
            null => "true",
            JsonValue v when v.TryGetValue(out bool b) => b ? "true" : "false",
            _ => json.GetString("init_weights"),
        };
        if (c.InitWeights is not ("true" or "false" or "lycoris")) throw new PeftException($"{json.Source}: init_weights must be true, false or \"lycoris\"");
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
        f["rank_dropout_scale"] = RankDropoutScale;
        f["use_effective_conv2d"] = false;
        f["decompose_both"] = DecomposeBoth;
        f["decompose_factor"] = DecomposeFactor;
        f["init_weights"] = InitWeights switch { "true" => true, "false" => false, var s => s };
        Patterns.Write(f);
    }

    /// <summary>
    /// Splits a dimension into two factors m &lt;= n (m * n = dimension): the divisor pair nearest the square root, or,
    /// with a positive factor that divides it, (factor, dimension / factor). The same arithmetic as PEFT's factorization.
    /// </summary>
    public static (int M, int N) Factorize(int dimension, int factor)
    {
        if (factor > 0 && dimension % factor == 0) return (factor, dimension / factor);
        if (factor == -1) factor = dimension;
        int m = 1, n = dimension, length = m + n;
        while (m < n)
        {
            int next = m + 1;
            while (dimension % next != 0) next++;
            int other = dimension / next;
            if (next + other > length || next > factor) break;
            (m, n) = (next, other);
        }
        return m > n ? (n, m) : (m, n);
    }
}
