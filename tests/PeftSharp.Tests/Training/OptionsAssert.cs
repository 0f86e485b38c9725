using PeftSharp.Options;
using PeftSharp.Training;

namespace PeftSharp.Tests.Training;

/// <summary>Compares TrainingOptions property by property: record equality compares lists by reference, which is not what a round trip means.</summary>
internal static class OptionsAssert
{
    private static bool Same(object? a, object? b) => a is IReadOnlyList<string> la && b is IReadOnlyList<string> lb ? la.SequenceEqual(lb) : Equals(a, b);

    public static void Same(TrainingOptions expected, TrainingOptions actual)
    {
        // Method options compare by their effective values: a default written out equals one left unset.
        foreach (var spec in TrainingSchema.All.Where(s => s is not PropertyOption))
            Assert.True(Same(TrainingSchema.Get(expected, spec), TrainingSchema.Get(actual, spec)), $"{spec.Key}: {OptionSpec.Show(TrainingSchema.Get(expected, spec))} vs {OptionSpec.Show(TrainingSchema.Get(actual, spec))}");
        foreach (var p in typeof(TrainingOptions).GetProperties().Where(p => p.PropertyType != typeof(OptionValues)))
        {
            var (e, a) = (p.GetValue(expected), p.GetValue(actual));
            if (e is IReadOnlyList<string> el && a is IReadOnlyList<string> al) Assert.True(el.SequenceEqual(al), $"{p.Name}: [{string.Join(", ", el)}] vs [{string.Join(", ", al)}]");
            else Assert.True(Equals(e, a), $"{p.Name}: {e ?? "null"} vs {a ?? "null"}");
        }
    }

    /// <summary>The config check refuses these lines (after a minimal model and train_data) with a message containing <paramref name="message"/>.</summary>
    public static void Refused(string yaml, string message)
    {
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.Validate(TrainConfigFile.ParseYaml("model: m\ntrain_data: d.jsonl\n" + yaml, "test.yaml")));
        Assert.Contains(message, e.Message);
    }
}
