using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.IA3;

/// <summary>
/// IA3's adapter_config.json (PEFT 0.18): which modules get a learned scaling vector, and which of them are
/// feed-forward (scaled on their input rather than their output).
/// </summary>
public sealed class IA3Config : PeftConfig
{
    public override string PeftType => "IA3";
    public TargetSpec Targets { get; set; } = new();
    /// <summary>Names (suffix match) or a regex (full match) of targets scaled on their input.</summary>
    public IReadOnlyList<string>? FeedforwardList { get; set; }
    public string? FeedforwardRegex { get; set; }
    public bool FanInFanOut { get; set; }
    /// <summary>true: vectors of ones (the identity); false: N(0, 1) (for tests).</summary>
    public bool InitIA3Weights { get; set; } = true;

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat(
        ["target_modules", "exclude_modules", "feedforward_modules", "fan_in_fan_out", "init_ia3_weights"]);

    public static IA3Config Read(JsonConfig json)
    {
        var c = new IA3Config();
        c.ReadCommon(json);
        var targets = TargetSpec.Read(json);
        c.Targets = new TargetSpec { TargetList = targets.TargetList, TargetRegex = targets.TargetRegex, ExcludeList = targets.ExcludeList, ExcludeRegex = targets.ExcludeRegex };
        if (json.Raw("feedforward_modules") is JsonArray) c.FeedforwardList = json.GetStringList("feedforward_modules");
        else c.FeedforwardRegex = json.GetString("feedforward_modules", null);
        c.FanInFanOut = json.GetBool("fan_in_fan_out", false);
        c.InitIA3Weights = json.GetBool("init_ia3_weights", true);
        return c;
    }

    /// <summary>PEFT's rule: a list entry matches when the name ends with it; a string must match the whole name.</summary>
    public bool IsFeedforward(string moduleName) => FeedforwardRegex != null
        ? System.Text.RegularExpressions.Regex.IsMatch(moduleName, $"^(?:{FeedforwardRegex})$")
        : FeedforwardList?.Any(f => moduleName.EndsWith(f, StringComparison.Ordinal)) == true;

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        var targets = new Dictionary<string, JsonNode?>();
        Targets.Write(targets);
        f["target_modules"] = targets["target_modules"];
        f["exclude_modules"] = targets["exclude_modules"];
        f["feedforward_modules"] = FeedforwardRegex != null ? JsonValue.Create(FeedforwardRegex) : StringList(FeedforwardList);
        f["fan_in_fan_out"] = FanInFanOut;
        f["init_ia3_weights"] = InitIA3Weights;
    }
}
