using System.Globalization;
using PeftSharp.Options;

namespace PeftSharp.Training;

/// <summary>
/// What a resumed run may change, and the checks that keep a resume from damaging a run: the options recorded with the
/// checkpoint must equal the given ones except those declared <see cref="OptionAttribute.MayChangeOnResume"/> (paths
/// compared as full paths), and the new length must not be shorter than the steps already taken. Every refusal names
/// the options that differ, before anything in the run folder is written.
/// </summary>
public static class ResumeRules
{
    /// <summary>The options a resume may change, as config keys (epochs, max_steps, eval_every, ...).</summary>
    public static IReadOnlyList<string> MayChange { get; } = TrainingSchema.All.Where(s => s.MayChangeOnResume).Select(s => s.Key).ToList();

    /// <summary>Every option of the run by key, as config.yaml shows it, with paths made absolute (against the current folder).</summary>
    public static IReadOnlyDictionary<string, string> Record(TrainingOptions options) =>
        TrainingSchema.Relevant(options).ToDictionary(s => s.Key, s => Shown(s, TrainingSchema.Get(options, s)), StringComparer.Ordinal);

    /// <summary>
    /// Throws, naming each difference, unless <paramref name="current"/> may continue the run whose checkpoint recorded
    /// <paramref name="recorded"/>. Options of a method other than the one now chosen are not compared one by one: the
    /// method itself differs.
    /// </summary>
    public static void CheckOptions(string checkpointDir, IReadOnlyDictionary<string, string> recorded, TrainingOptions current)
    {
        var now = Record(current);
        var differences = new List<string>();
        foreach (var spec in TrainingSchema.All)
        {
            if (spec.MayChangeOnResume || spec.Method is not null && !spec.AppliesTo(current.Method)) continue;
            var before = recorded.TryGetValue(spec.Key, out var r) ? r : Shown(spec, spec.Default);
            var after = now.TryGetValue(spec.Key, out var n) ? n : Shown(spec, spec.Default);
            if (before != after) differences.Add($"{spec.Key} was {before}, now {after}");
        }
        if (differences.Count > 0)
            throw new PeftException($"{checkpointDir}: cannot resume with different options: {string.Join("; ", differences)}. " +
                                    $"A resume may change only {string.Join(", ", MayChange)}; to train with other options, start a new run (another --output)");
    }

    /// <summary>Throws when the run has already taken more steps than <paramref name="total"/> asks for.</summary>
    public static void CheckLength(string runDir, int done, int total, int stepsPerEpoch, TrainingOptions o)
    {
        if (done <= total) return;
        string asked = o.MaxSteps is { } max
            ? $"max_steps {max.ToString(CultureInfo.InvariantCulture)}"
            : $"epochs {o.Epochs.ToString(CultureInfo.InvariantCulture)} ({total.ToString("N0", CultureInfo.InvariantCulture)} steps)";
        string enough = o.MaxSteps != null
            ? $"--max-steps {done.ToString(CultureInfo.InvariantCulture)} or more"
            : $"--epochs {((done + stepsPerEpoch - 1) / Math.Max(1, stepsPerEpoch)).ToString(CultureInfo.InvariantCulture)} or more";
        throw new PeftException($"{runDir}: cannot resume: the run has already taken {done.ToString("N0", CultureInfo.InvariantCulture)} steps, " +
                                $"more than {asked} asks for; give {enough}, or use the adapter it has");
    }

    private static string Shown(OptionSpec spec, object? value) =>
        spec.IsPath && value is string { Length: > 0 } path ? Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)) : OptionSpec.Show(value);
}
