namespace PeftSharp.Tokenization;

/// <summary>
/// Hugging Face's tokenization pipeline (added tokens → normalizer → pre-tokenizer → model → post-processor, and a
/// decoder back), assembled from tokenizer.json or from the legacy vocabulary files. Keeping the steps separate is
/// what lets one model implementation serve GPT-2, Llama 3 and Qwen2 with only a different pre-tokenizer.
/// </summary>
internal sealed class PipelineTokenizer : ITextTokenizer
{
    private readonly ITokenModel _model;
    private readonly AddedVocabulary _added;
    private readonly ITextNormalizer? _normalizer;
    private readonly IPreTokenizer? _preTokenizer;
    private readonly IPostProcessor? _postProcessor;
    private readonly ITokenDecoder _decoder;
    private readonly bool _cleanUpSpaces;
    private readonly RoleIds _roles;

    public PipelineTokenizer(ITokenModel model, AddedVocabulary added, ITextNormalizer? normalizer, IPreTokenizer? preTokenizer,
        IPostProcessor? postProcessor, ITokenDecoder decoder, bool cleanUpSpaces,
        IReadOnlyDictionary<string, string?> roles, IEnumerable<string> additionalSpecial)
    {
        _model = model; _added = added; _normalizer = normalizer; _preTokenizer = preTokenizer;
        _postProcessor = postProcessor; _decoder = decoder; _cleanUpSpaces = cleanUpSpaces;
        _roles = RoleIds.Resolve(roles, TokenToId);
        var special = new HashSet<int>(added.Tokens.Where(t => t.Special).Select(t => t.Id));
        special.UnionWith(_roles.All);
        foreach (var content in additionalSpecial) if (TokenToId(content) is { } id) special.Add(id);
        SpecialTokenIds = special;
        VocabSize = Math.Max(model.Size, added.Size);
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
        var ids = new List<int>();
        bool atStart = true;
        foreach (var (segment, addedId) in _added.Split(text))
        {
            if (addedId is { } id) { ids.Add(id); atStart = false; continue; }
            string normalized = _normalizer?.Normalize(segment) ?? segment;
            IEnumerable<string> pieces = _preTokenizer?.Split(normalized, atStart) ?? [normalized];
            foreach (var piece in pieces)
                if (piece.Length > 0) _model.Encode(piece, ids);
            atStart = false;
        }
        return addSpecialTokens ? AddSpecialTokens(ids) : ids;
    }

    public IReadOnlyList<int> AddSpecialTokens(IReadOnlyList<int> ids) =>
        _postProcessor is null ? ids.ToList() : _postProcessor.Apply(ids);

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (skipSpecialTokens && SpecialTokenIds.Contains(id)) continue;
            if (IdToToken(id) is { } token) tokens.Add(token);
        }
        string text = string.Concat(_decoder.Decode(tokens));
        return _cleanUpSpaces ? TokenizationCleanup.Apply(text) : text;
    }

    public string? IdToToken(int id) => _added.ById(id)?.Content ?? _model.IdToToken(id);
    public int? TokenToId(string token) => _added.ByContent(token)?.Id ?? _model.TokenToId(token);
}
