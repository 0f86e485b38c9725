using System.Collections.Concurrent;
using PeftSharp.IO;

namespace PeftSharp.Tuners;

/// <summary>
/// The one list of methods. Adapter files are dispatched here by peft_type; training, config validation, the CLI
/// (<c>peft train --method</c>, <c>peft methods</c>, <c>peft inspect</c>) and the run report find methods here by name.
/// A method is one row (see the checklist on <see cref="ITuner"/>).
/// </summary>
public static class TunerRegistry
{
    private static readonly ITuner[] Rows =
    [
        new Lora.LoraTuner(),
        new IA3.IA3Tuner(),
        new LoHa.LoHaTuner(),
        new LoKr.LoKrTuner(),
        new Vera.VeraTuner(),
        new AdaLora.AdaLoraTuner(),
        new PromptLearning.PromptTuning.PromptTuningTuner(),
        new PromptLearning.PrefixTuning.PrefixTuningTuner(),
        new PromptLearning.PTuning.PTuningTuner(),
        new Bottleneck.BottleneckTuner(),
        new LnTuning.LnTuningTuner(),
        new BitFit.BitFitTuner(),
    ];

    private static readonly Dictionary<string, ITuner> ByType = Rows.ToDictionary(t => t.Description.PeftType, StringComparer.OrdinalIgnoreCase);
    private static readonly Dictionary<string, ITuner> ByName = Rows.ToDictionary(t => t.Description.Name, StringComparer.Ordinal);

    /// <summary>Every method, in the order people meet them.</summary>
    public static IReadOnlyList<ITuner> All => Rows;

    /// <summary>
    /// PEFT's peft_type values we read (the ones PEFT fixtures test), and the list an unknown peft_type is answered with.
    /// Methods of PeftSharp's own (<see cref="MethodDescription.ReadByPythonPeft"/> false) are read too but not listed:
    /// a file that names them was written here, and the answer to a file PEFT wrote stays about PEFT's types.
    /// </summary>
    public static IReadOnlyCollection<string> Supported { get; } =
        Rows.Where(t => t.Description.ReadByPythonPeft).ToDictionary(t => t.Description.PeftType, StringComparer.OrdinalIgnoreCase).Keys;

    /// <summary>CLI names of the methods <c>peft train</c> can train.</summary>
    public static IReadOnlyList<string> TrainableNames => Rows.Where(t => t.Description.Trains).Select(t => t.Description.Name).ToList();

    /// <summary>Methods added at run time (<see cref="Register"/>), e.g. by tests of the seams a method uses; resolved by peft_type only.</summary>
    private static readonly ConcurrentDictionary<string, ITuner> Temporary = new(StringComparer.OrdinalIgnoreCase);

    public static ITuner For(string peftType) => ByType.TryGetValue(peftType, out var tuner) || Temporary.TryGetValue(peftType, out tuner) ? tuner
        : throw new PeftException($"peft_type \"{peftType}\" is not supported (supported: {string.Join(", ", Supported)})");

    /// <summary>The method with this CLI name ("lora"), or null.</summary>
    public static ITuner? Named(string name) => ByName.GetValueOrDefault(name);

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
        if (ByType.ContainsKey(tuner.PeftType) || !Temporary.TryAdd(tuner.PeftType, tuner))
            throw new InvalidOperationException($"peft_type \"{tuner.PeftType}\" is already registered");
        return new Registration(tuner.PeftType);
    }

    private sealed class Registration(string peftType) : IDisposable
    {
        public void Dispose() => Temporary.TryRemove(peftType, out _);
    }
}
