using Microsoft.ML.Tokenizers;

namespace PeftSharp.Tokenization;

/// <summary>
/// A SentencePiece tokenizer.model / spiece.model (Llama 2, Mistral, T5) through Microsoft.ML.Tokenizers'
/// SentencePieceTokenizer, which implements both its BPE and Unigram models and its normalization. Only the BOS/EOS
/// choice and the special-token roles come from the folder's configuration files.
/// </summary>
internal sealed class SentencePieceTextTokenizer : ITextTokenizer
{
    private readonly SentencePieceTokenizer _spm;
    private readonly Dictionary<int, string> _reverse = new();
    private readonly IReadOnlyDictionary<string, int> _vocab;
    private readonly bool _addBos, _addEos;
    private readonly RoleIds _roles;

    private SentencePieceTextTokenizer(SentencePieceTokenizer spm, bool addBos, bool addEos, Dictionary<string, string?> roles,
        TokenizerConfig config)
    {
        _spm = spm;
        _addBos = addBos; _addEos = addEos;
        var vocab = new Dictionary<string, int>(spm.Vocabulary, StringComparer.Ordinal);
        if (spm.SpecialTokens is { } extra) foreach (var (t, id) in extra) vocab.TryAdd(t, id);
        _vocab = vocab;
        foreach (var (token, id) in vocab) _reverse.TryAdd(id, token);
        VocabSize = _reverse.Count == 0 ? 0 : _reverse.Keys.Max() + 1;
        _roles = RoleIds.Resolve(roles, TokenToId);
        var special = new HashSet<int>(_roles.All);
        special.UnionWith(config.AddedTokens.Where(t => t.Special).Select(t => t.Id));
        foreach (var content in config.AdditionalSpecial) if (TokenToId(content) is { } id) special.Add(id);
        SpecialTokenIds = special;
    }

    public static ITextTokenizer Load(string file, TokenizerConfig config)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (IOException e) { throw new PeftException($"{file}: cannot be read ({e.Message})", e); }

        bool t5 = config.BaseClass is "T5Tokenizer";
        bool addBos = config.AddBosToken ?? !t5;
        bool addEos = config.AddEosToken ?? t5;
        SentencePieceTokenizer spm = Create(file, bytes, addBos, addEos, null);

        // Tokens added on top of the model (ids past its pieces) are matched in the text by SentencePieceTokenizer itself.
        var extra = config.AddedTokens.Where(t => !spm.Vocabulary.ContainsKey(t.Content)).ToDictionary(t => t.Content, t => t.Id);
        if (extra.Count > 0) spm = Create(file, bytes, addBos, addEos, extra);

        var defaults = new Dictionary<string, string?>
        {
            ["bos_token"] = t5 ? null : spm.BeginningOfSentenceToken,
            ["eos_token"] = spm.EndOfSentenceToken,
            ["unk_token"] = spm.UnknownToken,
        };
        if (t5) defaults["pad_token"] = "<pad>";
        return new SentencePieceTextTokenizer(spm, addBos, addEos, AddedVocabularyBuilder.Roles(config, defaults), config);
    }

    private static SentencePieceTokenizer Create(string file, byte[] bytes, bool addBos, bool addEos, IReadOnlyDictionary<string, int>? extra)
    {
        try
        {
            using var stream = new MemoryStream(bytes);
            return SentencePieceTokenizer.Create(stream, addBos, addEos, extra);
        }
        catch (Exception e) when (e is not PeftException and not OutOfMemoryException)
        {
            throw new PeftException($"{file}: not a SentencePiece model that Microsoft.ML.Tokenizers can load ({e.GetType().Name}: {e.Message})", e);
        }
    }

    public int VocabSize { get; }
    public int? PadTokenId => _roles.Pad;
    public int? BosTokenId => _roles.Bos;
    public int? EosTokenId => _roles.Eos;
    public int? UnkTokenId => _roles.Unk;
    public int? ClsTokenId => _roles.Cls;
    public int? SepTokenId => _roles.Sep;
    public int? MaskTokenId => _roles.Mask;
    public IReadOnlySet<int> SpecialTokenIds { get; }

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _spm.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false);
        return addSpecialTokens ? AddSpecialTokens(ids) : ids.ToList();
    }

    public IReadOnlyList<int> AddSpecialTokens(IReadOnlyList<int> ids)
    {
        var result = new List<int>(ids.Count + 2);
        if (_addBos) result.Add(_spm.BeginningOfSentenceId);
        result.AddRange(ids);
        if (_addEos) result.Add(_spm.EndOfSentenceId);
        return result;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = ids.Where(id => _reverse.ContainsKey(id) && !(skipSpecialTokens && SpecialTokenIds.Contains(id))).ToList();
        return _spm.Decode(kept, considerSpecialTokens: !skipSpecialTokens);
    }

    public string? IdToToken(int id) => _reverse.GetValueOrDefault(id);
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;
}
