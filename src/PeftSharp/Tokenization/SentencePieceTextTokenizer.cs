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

    private SentencePieceTextTokenizer(SentencePieceTokenizer spm, SentencePieceModelFile pieces, bool addBos, bool addEos,
        Dictionary<string, string?> roles, TokenizerConfig config)
    {
        _spm = spm;
        _addBos = addBos; _addEos = addEos;
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < pieces.Pieces.Count; id++) vocab.TryAdd(pieces.Pieces[id].Piece, id);
        foreach (var t in config.AddedTokens) vocab.TryAdd(t.Content, t.Id);
        _vocab = vocab;
        foreach (var (token, id) in vocab) _reverse.TryAdd(id, token);
        VocabSize = _reverse.Count == 0 ? 0 : _reverse.Keys.Max() + 1;
        _roles = RoleIds.Resolve(roles, TokenToId);
        var special = new HashSet<int>(_roles.All);
        special.UnionWith(config.AddedTokens.Where(t => t.Special).Select(t => t.Id));
        foreach (var content in config.AdditionalSpecial) if (TokenToId(content) is { } id) special.Add(id);
        // SentencePiece's control pieces (<s>, </s>, <pad>) are never text.
        for (int id = 0; id < pieces.Pieces.Count; id++) if (pieces.Pieces[id].Type == ControlType) special.Add(id);
        SpecialTokenIds = special;
    }

    private const int ControlType = 3;

    public static ITextTokenizer Load(string file, TokenizerConfig config)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (IOException e) { throw new PeftException($"{file}: cannot be read ({e.Message})", e); }

        var pieces = SentencePieceModelFile.Parse(bytes, file);
        bool t5 = config.BaseClass is "T5Tokenizer";
        bool addBos = (config.AddBosToken ?? !t5) && pieces.BosId >= 0;
        bool addEos = (config.AddEosToken ?? t5) && pieces.EosId >= 0;

        // Microsoft.ML.Tokenizers 2.0.1 indexes its piece table with bos_id even when it is -1 (T5 has no BOS). A
        // second trainer_spec message appended to the protobuf is merged into the first, so pointing bos_id at the
        // EOS piece avoids the crash; BOS is never added for such models.
        if (pieces.BosId < 0 && pieces.EosId >= 0) bytes = [.. bytes, .. TrainerSpecWithBosId(pieces.EosId)];
        SentencePieceTokenizer spm = Create(file, bytes, addBos, addEos, null);

        // Tokens added on top of the model (ids past its pieces) are matched in the text by SentencePieceTokenizer itself.
        var extra = config.AddedTokens.Where(t => t.Id >= pieces.Pieces.Count).ToDictionary(t => t.Content, t => t.Id);
        if (extra.Count > 0) spm = Create(file, bytes, addBos, addEos, extra);

        string? Piece(int id) => id >= 0 && id < pieces.Pieces.Count ? pieces.Pieces[id].Piece : null;
        var defaults = new Dictionary<string, string?>
        {
            ["bos_token"] = Piece(pieces.BosId),
            ["eos_token"] = Piece(pieces.EosId),
            ["unk_token"] = Piece(pieces.UnkId),
            ["pad_token"] = Piece(pieces.PadId),
        };
        return new SentencePieceTextTokenizer(spm, pieces, addBos, addEos, AddedVocabularyBuilder.Roles(config, defaults), config);
    }

    /// <summary>Protobuf bytes of ModelProto field 2 (trainer_spec) holding only field 41 (bos_id).</summary>
    private static byte[] TrainerSpecWithBosId(int bosId)
    {
        var inner = new List<byte> { 41 << 3 & 0x7F | 0x80, 41 >> 4 };
        for (uint v = (uint)bosId; ; v >>= 7)
        {
            if (v < 0x80) { inner.Add((byte)v); break; }
            inner.Add((byte)(v | 0x80));
        }
        return [2 << 3 | 2, (byte)inner.Count, .. inner];
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
        // Runs of ordinary ids go through SentencePiece; special ids are written as their pieces (when kept), since
        // Microsoft.ML.Tokenizers would name them by its own BOS/EOS notion.
        var sb = new System.Text.StringBuilder();
        var run = new List<int>();
        foreach (int id in ids)
        {
            if (!_reverse.TryGetValue(id, out var piece)) continue;
            if (!SpecialTokenIds.Contains(id)) { run.Add(id); continue; }
            if (skipSpecialTokens) continue;
            if (run.Count > 0) { sb.Append(_spm.Decode(run, considerSpecialTokens: false)); run.Clear(); }
            sb.Append(piece);
        }
        if (run.Count > 0) sb.Append(_spm.Decode(run, considerSpecialTokens: false));
        return sb.ToString();
    }

    public string? IdToToken(int id) => _reverse.GetValueOrDefault(id);
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;
}
