using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftSharp.Data;

/// <summary>
/// Class names and their ids for sequence classification. Built from the training data in sorted order (numeric when
/// every label is an integer, so 0/1 labels keep their values; ordinal otherwise), or given explicitly, so that the
/// same label always gets the same id across runs and the map can be written to config.json as id2label/label2id.
/// Labels are matched by their text: the integer 1 and the string "1" are the same label (CSV has only strings).
/// </summary>
public sealed class LabelMap
{
    private readonly Dictionary<string, int> _ids;

    private LabelMap(IReadOnlyList<string> names)
    {
        Names = names;
        _ids = new Dictionary<string, int>(names.Count, StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
            if (!_ids.TryAdd(names[i], i)) throw new PeftException($"The label \"{names[i]}\" is listed twice.");
    }

    /// <summary>Id → name.</summary>
    public IReadOnlyList<string> Names { get; }
    public int Count => Names.Count;
    public IReadOnlyDictionary<string, int> Ids => _ids;

    /// <summary>Labels in the order given: the first is id 0.</summary>
    public static LabelMap FromNames(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var list = names.ToList();
        if (list.Count < 2) throw new PeftException($"Classification needs at least two labels, got {list.Count}.");
        return new LabelMap(list);
    }

    /// <summary>
    /// The labels found in <paramref name="records"/>, sorted. Records whose label is missing or of the wrong type are
    /// passed over here; the task reports them when it tokenizes the same records.
    /// </summary>
    /// <param name="what">The data the records are, for the error: "the training data (train.jsonl)".</param>
    public static LabelMap FromRecords(IEnumerable<DataRecord> records, string labelField = "label", string what = "the training data")
    {
        ArgumentNullException.ThrowIfNull(records);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in records)
            if (TryText(record[labelField], out var text, out _)) seen.Add(text);
        if (seen.Count < 2)
            throw new PeftException($"Classification needs at least two different labels in \"{labelField}\"; {what} has " +
                (seen.Count == 0 ? "none" : $"only \"{seen.First()}\""));
        var numeric = seen.All(s => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _));
        var sorted = numeric
            ? seen.OrderBy(s => long.Parse(s, CultureInfo.InvariantCulture)).ToList()
            : seen.OrderBy(s => s, StringComparer.Ordinal).ToList();
        return new LabelMap(sorted);
    }

    public int? IdOf(string label) => _ids.TryGetValue(label, out var id) ? id : null;

    /// <summary>A label value's text: a string as is, an integer in invariant digits, a boolean as true/false; anything else is an error.</summary>
    internal static bool TryText(JsonNode? node, out string text, out string? error)
    {
        text = "";
        error = null;
        switch (node)
        {
            case null:
                error = "is missing";
                return false;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                text = v.GetValue<string>();
                if (text.Length == 0) { error = "is empty"; return false; }
                return true;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                if (v.TryGetValue(out long whole))
                {
                    text = whole.ToString(CultureInfo.InvariantCulture);
                    return true;
                }
                if (v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) < 1e15)
                {
                    text = ((long)d).ToString(CultureInfo.InvariantCulture);
                    return true;
                }
                error = $"must be an integer or a string, found {node.ToJsonString()}";
                return false;
            case JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                text = v.GetValueKind() == JsonValueKind.True ? "true" : "false";
                return true;
            default:
                error = $"must be an integer or a string, found {JsonLinesReader.Describe(node)}";
                return false;
        }
    }

    /// <summary>"0=negative, 1=positive": for logs and the training report.</summary>
    public override string ToString() => string.Join(", ", Names.Select((n, i) => $"{i}={n}"));
}
