using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.LoKr;

/// <summary>LoKr's adapter_config.json (PEFT 0.18): the shared LyCORIS fields and the Kronecker factorisation options.</summary>
public sealed class LoKrConfig : LycorisConfig
{
    public override string PeftType => "LOKR";
    public bool RankDropoutScale { get; set; }
    /// <summary>Also split the first (small) Kronecker factor into two low-rank matrices.</summary>
    public bool DecomposeBoth { get; set; }
    /// <summary>-1: factor dimensions near their square root; otherwise a divisor to aim for.</summary>
    public int DecomposeFactor { get; set; } = -1;
    /// <summary>"true" (first factor zero: the identity), "false" (all random, tests) or "lycoris" (second factor zero).</summary>
    public string InitWeights { get; set; } = "true";

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat(["rank_dropout_scale", "decompose_both", "decompose_factor"]);

    public static LoKrConfig Read(JsonConfig json)
    {
        var c = new LoKrConfig();
        c.ReadLycoris(json);
        c.RankDropoutScale = json.GetBool("rank_dropout_scale", false);
        c.DecomposeBoth = json.GetBool("decompose_both", false);
        c.DecomposeFactor = json.GetInt("decompose_factor", -1)!.Value;
        c.InitWeights = json.Raw("init_weights") switch
        {
            null => "true",
            JsonValue v when v.TryGetValue(out bool b) => b ? "true" : "false",
            _ => json.GetString("init_weights"),
        };
        if (c.InitWeights is not ("true" or "false" or "lycoris")) throw new PeftException($"{json.Source}: init_weights must be true, false or \"lycoris\"");
        return c;
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        base.WriteFields(f);
        f["rank_dropout_scale"] = RankDropoutScale;
        f["decompose_both"] = DecomposeBoth;
        f["decompose_factor"] = DecomposeFactor;
        f["init_weights"] = InitWeights switch { "true" => true, "false" => false, var s => s };
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
