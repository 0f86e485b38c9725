using PeftSharp.Tokenization;

namespace PeftSharp.Tests.Data;

/// <summary>
/// A whitespace tokenizer with predictable ids (pad 0, BOS 1, EOS 2, words from 10 in order of first sight), so task
/// tests can state exact ids and labels; real tokenizers are covered by the Tokenization tests.
/// </summary>
internal sealed class WordTokenizer(bool addsBos = false, bool hasPad = true) : ITextTokenizer
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly List<string> _words = [];

    public int Id(string word)
    {
        if (!_ids.TryGetValue(word, out var id))
        {
            id = 10 + _words.Count;
            _ids[word] = id;
            _words.Add(word);
        }
        return id;
    }

    public int[] Ids(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(Id).ToArray();

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = Ids(text);
        return addSpecialTokens ? AddSpecialTokens(ids) : ids;
    }

    public IReadOnlyList<int> AddSpecialTokens(IReadOnlyList<int> ids) => addsBos ? [1, .. ids] : ids.ToArray();

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        string.Join(' ', ids.Where(i => i >= 10).Select(i => _words[i - 10]));

    public int VocabSize => 10 + _words.Count;
    public int? PadTokenId => hasPad ? 0 : null;
    public int? BosTokenId => 1;
    public int? EosTokenId => 2;
    public int? UnkTokenId => null;
    public int? ClsTokenId => null;
    public int? SepTokenId => null;
    public int? MaskTokenId => null;
    public IReadOnlySet<int> SpecialTokenIds { get; } = new HashSet<int> { 0, 1, 2 };
    public string? IdToToken(int id) => id >= 10 && id - 10 < _words.Count ? _words[id - 10] : null;
    public int? TokenToId(string token) => _ids.TryGetValue(token, out var id) ? id : null;
}
