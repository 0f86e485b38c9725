using System.Collections.Concurrent;
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

    /// <summary>Methods added at run time (<see cref="Register"/>), e.g. by tests of the seams a method uses.</summary>
    private static readonly ConcurrentDictionary<string, ITuner> Temporary = new(StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyCollection<string> Supported => Tuners.Keys;

    public static ITuner For(string peftType) => Tuners.TryGetValue(peftType, out var tuner) || Temporary.TryGetValue(peftType, out tuner) ? tuner
        : throw new PeftException($"peft_type \"{peftType}\" is not supported (supported: {string.Join(", ", Tuners.Keys)})");

    public static PeftConfig ReadConfig(string path)
    {
        var json = JsonConfig.Load(path);
        return For(json.GetString("peft_type")).ReadConfig(json);
    }

    /// <summary>
    /// Adds a method that is not built in (a user's own, or a test's) under its peft_type, until the returned scope
    /// is disposed. The name must not be taken; it is not listed in <see cref="Supported"/>, which lists PEFT's methods.
    /// </summary>
    public static IDisposable Register(ITuner tuner)
    {
        if (Tuners.ContainsKey(tuner.PeftType) || !Temporary.TryAdd(tuner.PeftType, tuner))
            throw new InvalidOperationException($"peft_type \"{tuner.PeftType}\" is already registered");
        return new Registration(tuner.PeftType);
    }

    private sealed class Registration(string peftType) : IDisposable
    {
        public void Dispose() => Temporary.TryRemove(peftType, out _);
    }
}
