using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.LoHa;

/// <summary>LoHa's adapter_config.json (PEFT 0.18): the shared LyCORIS fields and init_weights.</summary>
public sealed class LoHaConfig : LycorisConfig
{
    public override string PeftType => "LOHA";
    /// <summary>true: w2_b = 0 (the identity at start); false: all four factors random (tests).</summary>
    public bool InitWeights { get; set; } = true;

    public static LoHaConfig Read(JsonConfig json)
    {
        var c = new LoHaConfig();
        c.ReadLycoris(json);
        c.InitWeights = json.GetBool("init_weights", true);
        return c;
    }

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        base.WriteFields(f);
        f["init_weights"] = InitWeights;
    }
}
