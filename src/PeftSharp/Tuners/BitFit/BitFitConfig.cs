using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.BitFit;

/// <summary>
/// adapter_config.json of BitFit. Python PEFT has no such type, so this is PeftSharp's own format: peft_type "BITFIT",
/// <c>biases</c> ("all": every module's bias; "target_modules": only the biases of the modules target_modules selects),
/// the usual targeting fields, and <c>peftsharp_only: true</c> so that anyone opening the file sees that Python PEFT
/// cannot load it. The tensors are the trained biases under the modules' own names (base_model.model.&lt;module&gt;.bias).
/// </summary>
public sealed class BitFitConfig : PeftConfig
{
    public const string Type = "BITFIT";
    public const string All = "all";
    public const string Targeted = "target_modules";

    public override string PeftType => Type;
    /// <summary>The modules whose biases train when <see cref="AllBiases"/> is false.</summary>
    public TargetSpec Targets { get; set; } = new();
    /// <summary>True: every bias of the model (BitFit as the paper has it); false: the targeted modules' biases only.</summary>
    public bool AllBiases => !Targets.HasTargets;

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat([
        "biases", "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern", "peftsharp_only"]);

    public static BitFitConfig Read(JsonConfig json)
    {
        var c = new BitFitConfig();
        c.ReadCommon(json);
        c.Targets = TargetSpec.Read(json);
        var biases = json.GetString("biases", c.AllBiases ? All : Targeted)!;
        if (biases != All && biases != Targeted)
            throw new PeftException($"{json.Source}: \"biases\" is \"{biases}\"; expected \"{All}\" or \"{Targeted}\"");
        if ((biases == All) != c.AllBiases)
            throw new PeftException(biases == All
                ? $"{json.Source}: \"biases\" is \"{All}\" but target_modules is set; remove one of them"
                : $"{json.Source}: \"biases\" is \"{Targeted}\" but target_modules is empty");
        return c;
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        f["biases"] = AllBiases ? All : Targeted;
        Targets.Write(f);
        f["peftsharp_only"] = true;
    }
}
