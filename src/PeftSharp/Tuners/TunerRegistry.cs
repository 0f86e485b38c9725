using PeftSharp.IO;
using PeftSharp.Tuners.Lora;

namespace PeftSharp.Tuners;

/// <summary>peft_type to method; every adapter file is dispatched through here.</summary>
public static class TunerRegistry
{
    private static readonly Dictionary<string, ITuner> Tuners = new(StringComparer.OrdinalIgnoreCase)
    {
        ["LORA"] = new LoraTuner(),
        ["IA3"] = new IA3.IA3Tuner(),
        ["VERA"] = new Vera.VeraTuner(),
        ["LOHA"] = new LoHa.LoHaTuner(),
        ["LOKR"] = new LoKr.LoKrTuner(),
        ["ADALORA"] = new AdaLora.AdaLoraTuner(),
    };

    public static IReadOnlyCollection<string> Supported => Tuners.Keys;

    public static ITuner For(string peftType) => Tuners.TryGetValue(peftType, out var tuner) ? tuner
        : throw new PeftException($"peft_type \"{peftType}\" is not supported (supported: {string.Join(", ", Tuners.Keys)})");

    public static PeftConfig ReadConfig(string path)
    {
        var json = JsonConfig.Load(path);
        return For(json.GetString("peft_type")).ReadConfig(json);
    }
}
