using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftSharp.Data;
using PeftSharp.IO;

namespace PeftSharp.Training.Rounds;

/// <summary>A validation set of an earlier round: its name (a file name stem), where it came from, and its records.</summary>
public sealed record RetentionSet(string Name, string Source, IReadOnlyList<DataRecord> Records);

/// <summary>
/// The validation sets of earlier rounds, which travel with the adapter: a finished run writes into its adapter folder
/// the sets it was checked on plus its own validation set (peftsharp_retain.json lists them, peftsharp_retain/NAME.jsonl
/// holds each set's records as they were read), so a run that continues the adapter (<c>from_adapter</c>) checks all of
/// them again without being told. Python PEFT ignores both. The folder is untrusted like any adapter: names are checked
/// before they become paths, and the records are read by the ordinary data readers.
/// </summary>
public static partial class RetentionSets
{
    public const string IndexFile = "peftsharp_retain.json";
    public const string Folder = "peftsharp_retain";

    /// <summary>At most this many records of a run's own validation set are kept in its adapter (the first ones).</summary>
    public const int MaxRecordsKept = 10_000;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex SafeName();

    /// <summary>The sets a run checks: those recorded in <paramref name="fromAdapter"/>, then the <c>retain_data</c> files (duplicates by content dropped).</summary>
    public static IReadOnlyList<RetentionSet> ForRun(string? fromAdapter, IReadOnlyList<string>? files, DataIssueLog issues)
    {
        var sets = fromAdapter != null ? Recorded(fromAdapter, issues).ToList() : [];
        foreach (var file in files ?? [])
        {
            if (!File.Exists(file)) throw new PeftException($"{file}: retain_data file not found");
            var name = UniqueName(Sanitize(Path.GetFileNameWithoutExtension(file)), sets);
            sets.Add(new RetentionSet(name, Path.GetFullPath(file), DataFileReader.ReadAll(file, issues)));
        }
        return Deduplicated(sets);
    }

    /// <summary>The sets an adapter folder records (none when it has no index).</summary>
    public static IReadOnlyList<RetentionSet> Recorded(string adapterDir, DataIssueLog issues)
    {
        var index = Path.Combine(adapterDir, IndexFile);
        if (!File.Exists(index)) return [];
        var names = JsonConfig.Load(index).GetStringList("sets") ?? throw new PeftException($"{index}: \"sets\" is missing");
        var sets = new List<RetentionSet>();
        foreach (var name in names)
        {
            if (!SafeName().IsMatch(name)) throw new PeftException($"{index}: set name \"{name}\" is not a plain file name (letters, digits, . _ -)");
            var file = Path.Combine(adapterDir, Folder, name + ".jsonl");
            if (!File.Exists(file)) throw new PeftException($"{index}: set \"{name}\" has no file {file}");
            sets.Add(new RetentionSet(name, file, DataFileReader.ReadAll(file, issues)));
        }
        return sets;
    }

    /// <summary>
    /// Writes <paramref name="sets"/> and the run's own validation set (named round-N, N one more than the rounds before it)
    /// into <paramref name="adapterDir"/> (a folder being filled before it is renamed into place).
    /// </summary>
    public static void Record(string adapterDir, IReadOnlyList<RetentionSet> sets, IReadOnlyList<DataRecord> ownValidation)
    {
        int round = 1 + sets.Count(s => s.Name.StartsWith("round-", StringComparison.Ordinal));
        var own = new RetentionSet(UniqueName($"round-{round}", sets), "this run's validation set", ownValidation.Take(MaxRecordsKept).ToList());
        var all = Deduplicated([.. sets, own]);
        Directory.CreateDirectory(Path.Combine(adapterDir, Folder));
        foreach (var set in all)
            AtomicFile.WriteAllText(Path.Combine(adapterDir, Folder, set.Name + ".jsonl"), JsonLines(set.Records));
        AtomicFile.WriteJson(Path.Combine(adapterDir, IndexFile), new JsonObject { ["sets"] = new JsonArray([.. all.Select(s => (JsonNode)s.Name)]) });
    }

    private static string JsonLines(IReadOnlyList<DataRecord> records)
    {
        var text = new StringBuilder();
        foreach (var r in records)
        {
            var o = new JsonObject();
            foreach (var (k, v) in r.Fields) o[k] = v?.DeepClone();
            text.Append(o.ToJsonString()).Append('\n');
        }
        return text.ToString();
    }

    private static List<RetentionSet> Deduplicated(IEnumerable<RetentionSet> sets)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return sets.Where(s => seen.Add(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(JsonLines(s.Records)))))).ToList();
    }

    private static string Sanitize(string stem)
    {
        var clean = Regex.Replace(stem, "[^A-Za-z0-9._-]", "-").TrimStart('.', '-', '_');
        if (clean.Length == 0) clean = "set";
        return clean.Length > 100 ? clean[..100] : clean;
    }

    private static string UniqueName(string name, IReadOnlyList<RetentionSet> taken)
    {
        var candidate = name;
        for (int i = 2; taken.Any(s => s.Name == candidate); i++) candidate = $"{name}-{i}";
        return candidate;
    }
}
