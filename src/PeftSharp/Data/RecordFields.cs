using System.Text.Json.Nodes;
using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>Field lookups and encodings shared by the tasks, reporting each problem in the same words.</summary>
internal static class RecordFields
{
    /// <summary>The names to look for: a field left at its default also accepts its usual aliases ("sentence" for "text").</summary>
    public static string[] Candidates(string field, string defaultName, params string[] aliases) =>
        field == defaultName ? [field, .. aliases] : [field];

    /// <summary>A non-empty string from the first present candidate field, or null after reporting why not.</summary>
    public static string? Text(DataRecord record, string[] names, DataIssueLog issues, bool allowEmpty = false)
    {
        foreach (var name in names)
        {
            if (!record.Fields.TryGetValue(name, out var node)) continue;
            if (node is null)
            {
                issues.Report(record, $"\"{name}\" is null");
                return null;
            }
            if (node is not JsonValue v || !v.TryGetValue(out string? s))
            {
                issues.Report(record, $"\"{name}\" must be a string, found {JsonLinesReader.Describe(node)}");
                return null;
            }
            if (!allowEmpty && string.IsNullOrWhiteSpace(s))
            {
                issues.Report(record, $"\"{name}\" is empty");
                return null;
            }
            return s;
        }
        issues.Report(record, Missing(names));
        return null;
    }

    public static string Missing(string[] names) => names.Length == 1
        ? $"missing field \"{names[0]}\""
        : $"missing field \"{names[0]}\" (also looked for {string.Join(", ", names.Skip(1).Select(n => $"\"{n}\""))})";

    /// <summary>
    /// Ids with the tokenizer's special tokens, truncated the way transformers does: the text's ids are cut and the
    /// special tokens ([CLS] … [SEP], a T5 EOS) are kept around what is left.
    /// </summary>
    public static int[] EncodeTruncated(ITextTokenizer tokenizer, string text, int? maxLength, PaddingSide side = PaddingSide.Right)
    {
        if (maxLength is null) return tokenizer.Encode(text, addSpecialTokens: true).ToArray();
        IReadOnlyList<int> ids = tokenizer.Encode(text, addSpecialTokens: false);
        int room = maxLength.Value - SpecialCount(tokenizer);
        if (ids.Count > room) ids = side == PaddingSide.Right ? ids.Take(room).ToArray() : ids.Skip(ids.Count - room).ToArray();
        return tokenizer.AddSpecialTokens(ids).ToArray();
    }

    public static int SpecialCount(ITextTokenizer tokenizer) => tokenizer.AddSpecialTokens([]).Count;

    public static void CheckMaxLength(ITextTokenizer tokenizer, int? maxLength, string what)
    {
        if (maxLength is { } m && m <= SpecialCount(tokenizer))
            throw new PeftException($"{what} {m} leaves no room for text after the {SpecialCount(tokenizer)} special tokens this tokenizer adds");
    }
}
