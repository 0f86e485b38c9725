using System.Reflection;
using System.Text.Json;
using PeftSharp.Data;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// The fixed general text forgetting is measured on: the bundled English sample (data/general-english, 132 paragraphs
/// of public-domain prose, embedded in this assembly so nothing is downloaded), or a user's data file with a text
/// field. Always the first N texts in file order, so two runs (and a run and its resume) measure the same texts.
/// </summary>
public static class GeneralText
{
    /// <summary>What the report calls the bundled sample.</summary>
    public const string BundledName = "bundled general English (data/general-english)";

    private const string ResourceName = "PeftSharp.general-english.jsonl";

    /// <summary>The first <paramref name="count"/> texts of <paramref name="path"/> (null: the bundled sample).</summary>
    public static IReadOnlyList<string> Load(string? path, int count, string textField = "text")
    {
        if (count < 2) throw new PeftException($"forgetting_samples {count}: at least 2 texts are needed");
        var texts = path == null ? Bundled() : FromFile(path, textField);
        if (texts.Count < 2)
            throw new PeftException($"{path ?? BundledName}: {texts.Count} non-empty text(s) in field \"{textField}\"; forgetting needs at least 2");
        return texts.Count <= count ? texts : texts.Take(count).ToList();
    }

    /// <summary>The bundled sample, all of it.</summary>
    public static IReadOnlyList<string> Bundled()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the assembly lacks its resource {ResourceName}");
        using var reader = new StreamReader(stream);
        var texts = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            using var json = JsonDocument.Parse(line);
            texts.Add(json.RootElement.GetProperty("text").GetString()!);
        }
        return texts;
    }

    private static List<string> FromFile(string path, string textField)
    {
        if (!File.Exists(path)) throw new PeftException($"{path}: forgetting_data not found");
        var issues = DataIssueLog.Strict();
        return DataFileReader.Read(path, issues).Select(r => r.GetString(textField)).Where(t => !string.IsNullOrWhiteSpace(t)).Select(t => t!).ToList();
    }
}
