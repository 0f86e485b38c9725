using PeftSharp.Training;

namespace PeftSharp.Tests.Training;

/// <summary>Compares TrainingOptions property by property: record equality compares lists by reference, which is not what a round trip means.</summary>
internal static class OptionsAssert
{
    public static void Same(TrainingOptions expected, TrainingOptions actual)
    {
        foreach (var p in typeof(TrainingOptions).GetProperties())
        {
            var (e, a) = (p.GetValue(expected), p.GetValue(actual));
            if (e is IReadOnlyList<string> el && a is IReadOnlyList<string> al) Assert.True(el.SequenceEqual(al), $"{p.Name}: [{string.Join(", ", el)}] vs [{string.Join(", ", al)}]");
            else Assert.True(Equals(e, a), $"{p.Name}: {e ?? "null"} vs {a ?? "null"}");
        }
    }
}
