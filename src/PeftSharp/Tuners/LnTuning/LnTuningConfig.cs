using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.LnTuning;

/// <summary>
/// adapter_config.json of PEFT's LN_TUNING: which modules get a trainable copy (target_modules, exclude_modules) and
/// modules_to_save. PEFT's config has no layers_to_transform or layers_pattern, so they are neither read nor written.
/// </summary>
public sealed class LnTuningConfig : PeftConfig
{
    public const string Type = "LN_TUNING";

    public override string PeftType => Type;
    /// <summary>The modules to copy; empty means PEFT's defaults for the model_type.</summary>
    public TargetSpec Targets { get; set; } = new();

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat(["target_modules", "exclude_modules"]);

    public static LnTuningConfig Read(JsonConfig json)
    {
        var c = new LnTuningConfig();
        c.ReadCommon(json);
        var targets = TargetSpec.Read(json);
        c.Targets = new TargetSpec
        {
            TargetList = targets.TargetList, TargetRegex = targets.TargetRegex,
            ExcludeList = targets.ExcludeList, ExcludeRegex = targets.ExcludeRegex,
        };
        return c;
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        Targets.Write(f);
        // Not fields of PEFT's LNTuningConfig: its constructor would refuse them.
        f.Remove("layers_to_transform");
        f.Remove("layers_pattern");
    }
}
