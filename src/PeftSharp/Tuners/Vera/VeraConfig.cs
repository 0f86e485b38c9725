using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.Vera;

/// <summary>
/// VeRA's adapter_config.json (PEFT 0.18): one pair of frozen random projections shared by all adapted layers,
/// and per layer two trainable scaling vectors; r is the projections' rank.
/// </summary>
public sealed class VeraConfig : PeftConfig
{
    public override string PeftType => "VERA";
    public int R { get; set; } = 256;
    public TargetSpec Targets { get; set; } = new();
    public long ProjectionPrngKey { get; set; }
    public bool SaveProjection { get; set; } = true;
    public double VeraDropout { get; set; }
    public double DInitial { get; set; } = 0.1;
    public bool FanInFanOut { get; set; }
    public string Bias { get; set; } = "none";
    /// <summary>true: lambda_b = 0, lambda_d = d_initial (the identity); false: lambda_b = 1, lambda_d ~ N(0, 1) (tests).</summary>
    public bool InitWeights { get; set; } = true;

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat([
        "r", "target_modules", "projection_prng_key", "save_projection", "vera_dropout", "d_initial", "fan_in_fan_out", "bias",
        "init_weights", "layers_to_transform", "layers_pattern"]);

    public static VeraConfig Read(JsonConfig json)
    {
        var c = new VeraConfig();
        c.ReadCommon(json);
        c.R = json.GetInt("r", 256)!.Value;
        if (c.R <= 0) throw new PeftException($"{json.Source}: \"r\" must be positive, got {c.R}");
        c.Targets = TargetSpec.Read(json);
        c.ProjectionPrngKey = json.GetLong("projection_prng_key", 0)!.Value;
        c.SaveProjection = json.GetBool("save_projection", true);
        c.VeraDropout = json.GetDouble("vera_dropout", 0)!.Value;
        c.DInitial = json.GetDouble("d_initial", 0.1)!.Value;
        c.FanInFanOut = json.GetBool("fan_in_fan_out", false);
        c.Bias = json.GetString("bias", "none")!;
        if (c.Bias != "none") throw new PeftException($"{json.Source}: VeRA with bias \"{c.Bias}\" is not supported (none)");
        c.InitWeights = json.GetBool("init_weights", true);
        return c;
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        var targets = new Dictionary<string, JsonNode?>();
        Targets.Write(targets);
        f["target_modules"] = targets["target_modules"];
        f["layers_to_transform"] = targets["layers_to_transform"];
        f["layers_pattern"] = targets["layers_pattern"];
        f["r"] = R;
        f["projection_prng_key"] = ProjectionPrngKey;
        f["save_projection"] = SaveProjection;
        f["vera_dropout"] = VeraDropout;
        f["d_initial"] = DInitial;
        f["fan_in_fan_out"] = FanInFanOut;
        f["bias"] = Bias;
        f["init_weights"] = InitWeights;
    }
}
