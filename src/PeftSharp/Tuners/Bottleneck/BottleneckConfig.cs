using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.Bottleneck;

/// <summary>
/// adapter_config.json of bottleneck adapters. Python PEFT has no such type, so this is PeftSharp's own format:
/// peft_type "BOTTLENECK", the usual targeting fields, the adapter's shape (reduction_factor, non_linearity), where it
/// goes by default (placement), and <c>peftsharp_only: true</c> so that anyone opening the file sees that Python PEFT
/// cannot load it (it would fail on the unknown peft_type).
/// </summary>
public sealed class BottleneckConfig : PeftConfig
{
    public const string Type = "BOTTLENECK";
    public const string Houlsby = "houlsby";
    public const string Pfeiffer = "pfeiffer";
    public static readonly string[] Placements = [Houlsby, Pfeiffer];
    public static readonly string[] NonLinearities = ["relu", "gelu", "tanh", "silu"];

    public override string PeftType => Type;
    /// <summary>The modules whose output gets an adapter; empty means the placement's defaults for the model_type.</summary>
    public TargetSpec Targets { get; set; } = new();
    /// <summary>Bottleneck width = the wrapped module's output width / reduction_factor (at least 1).</summary>
    public int ReductionFactor { get; set; } = 16;
    /// <summary>houlsby: after attention and the feed-forward block; pfeiffer: after the feed-forward block only. Chooses the default targets.</summary>
    public string Placement { get; set; } = Houlsby;
    public string NonLinearity { get; set; } = "relu";
    /// <summary>Dropout on the adapter's input while training.</summary>
    public double AdapterDropout { get; set; }
    /// <summary>true: up-projection zero, so the adapter starts as the identity; false: random (tests).</summary>
    public bool InitWeights { get; set; } = true;

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat([
        "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern", "reduction_factor", "placement",
        "non_linearity", "adapter_dropout", "init_weights", "peftsharp_only"]);

    public static BottleneckConfig Read(JsonConfig json)
    {
        var c = new BottleneckConfig();
        c.ReadCommon(json);
        c.Targets = TargetSpec.Read(json);
        c.ReductionFactor = json.GetInt("reduction_factor", 16)!.Value;
        if (c.ReductionFactor < 1) throw new PeftException($"{json.Source}: \"reduction_factor\" must be at least 1, got {c.ReductionFactor}");
        c.Placement = OneOf(json, "placement", Houlsby, Placements);
        c.NonLinearity = OneOf(json, "non_linearity", "relu", NonLinearities);
        c.AdapterDropout = json.GetDouble("adapter_dropout", 0)!.Value;
        if (c.AdapterDropout is < 0 or >= 1) throw new PeftException($"{json.Source}: \"adapter_dropout\" must be in [0, 1), got {c.AdapterDropout}");
        c.InitWeights = json.GetBool("init_weights", true);
        return c;
    }

    /// <summary>The bottleneck width for a module with this many output features.</summary>
    public long BottleneckSize(long outFeatures) => Math.Max(1, outFeatures / ReductionFactor);

    private static string OneOf(JsonConfig json, string key, string fallback, string[] allowed)
    {
        var value = json.GetString(key, fallback)!;
        return allowed.Contains(value, StringComparer.Ordinal) ? value
            : throw new PeftException($"{json.Source}: \"{key}\" is \"{value}\"; expected one of {string.Join(", ", allowed)}");
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        Targets.Write(f);
        f["reduction_factor"] = ReductionFactor;
        f["placement"] = Placement;
        f["non_linearity"] = NonLinearity;
        f["adapter_dropout"] = AdapterDropout;
        f["init_weights"] = InitWeights;
        f["peftsharp_only"] = true;
    }
}
