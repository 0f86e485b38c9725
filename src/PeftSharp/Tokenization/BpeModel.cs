using System.Text;
using Microsoft.ML.Tokenizers;

namespace PeftSharp.Tokenization;

/// <summary>
/// BPE (byte-level as in GPT-2 / Llama 3 / Qwen2, or character-level with byte fallback as in Llama 2's tokenizer.json)
/// through Microsoft.ML.Tokenizers' BpeTokenizer, which applies Hugging Face's merge order. Added here: tokenizers'
/// ignore_merges (a piece that is already a vocabulary entry is taken whole) and byte_fallback (characters outside
/// the vocabulary become &lt;0xXX&gt; tokens).
/// </summary>
internal sealed class BpeModel : ITokenModel
{
    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, string> _reverse = new();
    private readonly bool _byteLevel;
    private readonly bool _ignoreMerges;
    private readonly bool _byteFallback;
    private readonly int? _unkId;
    private readonly bool _fuseUnk;

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, BpeSettings settings, string source)
    {
        _vocab = vocab;
        foreach (var (token, id) in vocab) _reverse.TryAdd(id, token);
        _byteLevel = settings.ByteLevel;
        _ignoreMerges = settings.IgnoreMerges;
        _byteFallback = settings.ByteFallback;
        _fuseUnk = settings.FuseUnk;
        if (settings.UnkToken is not null)
        {
            if (!vocab.TryGetValue(settings.UnkToken, out int unk))
                throw new PeftException($"{source}: the unknown token '{settings.UnkToken}' is not in the BPE vocabulary.");
            _unkId = unk;
        }
        Size = vocab.Count == 0 ? 0 : vocab.Values.Max() + 1;

        var mergeLines = new List<string>(merges.Count);
        for (int i = 0; i < merges.Count; i++)
        {
            var (left, right) = merges[i];
            if (left.Length == 0 || right.Length == 0 || left.Contains(' ') || right.Contains(' '))
                throw new PeftException($"{source}: merge {i} ('{left}' '{right}') has an empty part or a space inside a part, which is not supported.");
            string prefix = settings.ContinuingSubwordPrefix ?? "";
            string merged = left + (right.StartsWith(prefix, StringComparison.Ordinal) ? right[prefix.Length..] : right);
            if (!vocab.ContainsKey(left) || !vocab.ContainsKey(right) || !vocab.ContainsKey(merged))
                throw new PeftException($"{source}: merge {i} ('{left}' '{right}') uses or makes a token that is not in the vocabulary.");
            mergeLines.Add(left + " " + right);
        }
        try
        {
            _bpe = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = mergeLines,
                ByteLevel = settings.ByteLevel,
                UnknownToken = settings.UnkToken,
                FuseUnknownTokens = settings.FuseUnk,
                ContinuingSubwordPrefix = string.IsNullOrEmpty(settings.ContinuingSubwordPrefix) ? null : settings.ContinuingSubwordPrefix,
                EndOfWordSuffix = string.IsNullOrEmpty(settings.EndOfWordSuffix) ? null : settings.EndOfWordSuffix,
            });
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            throw new PeftException($"{source}: the BPE vocabulary or merges were rejected: {e.Message}", e);
        }
    }

    public int Size { get; }

    public void Encode(string piece, List<int> ids)
    {
        if (_ignoreMerges && _vocab.TryGetValue(_byteLevel ? ByteLevelAlphabet.Encode(piece) : piece, out int whole))
        {
            ids.Add(whole);
            return;
        }
        if (!_byteFallback || _byteLevel)
        {
            ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
            return;
        }
        // Merges never involve <0xXX> tokens, so cutting the piece at characters outside the vocabulary and
        // encoding the runs between them gives what tokenizers gets for the whole piece.
        var run = new StringBuilder();
        bool lastWasUnk = false;
        foreach (var rune in piece.EnumerateRunes())
        {
            string ch = rune.ToString();
            if (_vocab.ContainsKey(ch)) { run.Append(ch); continue; }
            if (run.Length > 0)
            {
                ids.AddRange(_bpe.EncodeToIds(run.ToString(), considerPreTokenization: false, considerNormalization: false));
                run.Clear();
                lastWasUnk = false;
            }
            var byteIds = new List<int>();
            foreach (byte b in Encoding.UTF8.GetBytes(ch))
            {
                if (_vocab.TryGetValue($"<0x{b:X2}>", out int byteId)) byteIds.Add(byteId);
                else { byteIds = null; break; }
            }
            if (byteIds is not null) { ids.AddRange(byteIds); lastWasUnk = false; }
            else if (_unkId is { } unk && !(_fuseUnk && lastWasUnk)) { ids.Add(unk); lastWasUnk = true; }
        }
        if (run.Length > 0) ids.AddRange(_bpe.EncodeToIds(run.ToString(), considerPreTokenization: false, considerNormalization: false));
    }

    public string? IdToToken(int id) => _reverse.GetValueOrDefault(id);
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;
}

/// <summary>The options of a tokenizer.json BPE model that change the ids.</summary>
internal sealed record BpeSettings(
    bool ByteLevel,
    string? UnkToken = null,
    bool FuseUnk = false,
    bool ByteFallback = false,
    bool IgnoreMerges = false,
    string? ContinuingSubwordPrefix = null,
    string? EndOfWordSuffix = null);
