namespace PeftSharp.Tokenization;

/// <summary>A token added on top of the model's vocabulary (special tokens like [CLS] or &lt;|endoftext|&gt;, or user additions).</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false, bool SingleWord = false);

/// <summary>
/// Hugging Face matches added tokens in the raw text before normalization, so "[CLS]" in a BERT input stays one id
/// instead of being lower-cased and split. This does the same: the longest added token at the leftmost position wins;
/// lstrip/rstrip swallow the neighbouring whitespace; single_word requires no word character next to it.
/// </summary>
internal sealed class AddedVocabulary
{
    private readonly Dictionary<string, AddedToken> _byContent = new(StringComparer.Ordinal);
    private readonly Dictionary<int, AddedToken> _byId = new();
    private readonly Dictionary<char, List<AddedToken>> _byFirstChar = new();

    public AddedVocabulary(IEnumerable<AddedToken> tokens)
    {
        foreach (var t in tokens)
        {
            if (t.Content.Length == 0) continue;
            _byContent[t.Content] = t;
            _byId[t.Id] = t;
        }
        foreach (var t in _byContent.Values)
        {
            if (!_byFirstChar.TryGetValue(t.Content[0], out var list)) _byFirstChar[t.Content[0]] = list = new();
            list.Add(t);
        }
        foreach (var list in _byFirstChar.Values) list.Sort((a, b) => b.Content.Length.CompareTo(a.Content.Length));
    }

    public IReadOnlyCollection<AddedToken> Tokens => _byId.Values;
    public AddedToken? ById(int id) => _byId.GetValueOrDefault(id);
    public AddedToken? ByContent(string content) => _byContent.GetValueOrDefault(content);
    public int Size => _byId.Count == 0 ? 0 : _byId.Keys.Max() + 1;

    /// <summary>The text cut into plain segments (Id null) and added tokens (Id set), in order.</summary>
    public List<(string Text, int? Id)> Split(string text)
    {
        var result = new List<(string, int?)>();
        if (_byFirstChar.Count == 0) { if (text.Length > 0) result.Add((text, null)); return result; }
        int plainStart = 0;
        for (int i = 0; i < text.Length;)
        {
            var match = MatchAt(text, i);
            if (match is null) { i++; continue; }
            int start = i, end = i + match.Content.Length;
            if (match.LStrip) while (start > plainStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (match.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            if (start > plainStart) result.Add((text[plainStart..start], null));
            result.Add((match.Content, match.Id));
            plainStart = i = end;
        }
        if (plainStart < text.Length) result.Add((text[plainStart..], null));
        return result;
    }

    private AddedToken? MatchAt(string text, int i)
    {
        if (!_byFirstChar.TryGetValue(text[i], out var candidates)) return null;
        foreach (var t in candidates)
        {
            if (i + t.Content.Length > text.Length || string.CompareOrdinal(text, i, t.Content, 0, t.Content.Length) != 0) continue;
            if (t.SingleWord && (i > 0 && IsWordChar(text[i - 1]) || i + t.Content.Length < text.Length && IsWordChar(text[i + t.Content.Length])))
                continue;
            return t;
        }
        return null;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
