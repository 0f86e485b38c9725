using System.Text;
using Microsoft.ML.Tokenizers;

namespace PeftSharp.Tokenization;

/// <summary>
/// WordPiece (BERT) through Microsoft.ML.Tokenizers' WordPieceTokenizer, fed one pre-tokenized word at a time.
/// The word-length limit is checked here in Unicode characters, as Hugging Face counts them (not UTF-16 units).
/// </summary>
internal sealed class WordPieceModel : ITokenModel
{
    private readonly WordPieceTokenizer _wordPiece;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, string> _reverse = new();
    private readonly int _unkId;
    private readonly int _maxCharsPerWord;

    public WordPieceModel(Dictionary<string, int> vocab, string unkToken, string prefix, int maxCharsPerWord, string source)
    {
        _vocab = vocab;
        foreach (var (token, id) in vocab) _reverse[id] = token;
        if (!vocab.TryGetValue(unkToken, out _unkId))
            throw new PeftException($"{source}: the unknown token '{unkToken}' is not in the WordPiece vocabulary.");
        _maxCharsPerWord = maxCharsPerWord;
        Size = vocab.Count == 0 ? 0 : vocab.Values.Max() + 1;

        // WordPieceTokenizer reads a vocab.txt stream whose line numbers are the ids; an empty line keeps a gap
        // (or a duplicate token's earlier id) unused.
        var sb = new StringBuilder();
        for (int id = 0; id < Size; id++)
        {
            if (_reverse.TryGetValue(id, out var token) && vocab[token] == id)
            {
                if (token.Contains('\n') || token.Contains('\r'))
                    throw new PeftException($"{source}: WordPiece token {id} contains a line break, which is not supported.");
                sb.Append(token);
            }
            sb.Append('\n');
        }
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(sb.ToString()));
        _wordPiece = WordPieceTokenizer.Create(stream, new WordPieceOptions
        {
            UnknownToken = unkToken,
            ContinuingSubwordPrefix = prefix,
            // A word within our limit in code points is within twice that in UTF-16 units.
            MaxInputCharsPerWord = Math.Max(1, maxCharsPerWord) * 2,
        });
    }

    /// <summary>Reads vocab.txt the way transformers' load_vocab does: the line number is the id, the last duplicate wins.</summary>
    public static Dictionary<string, int> ReadVocabTxt(string path)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int index = 0;
        foreach (var line in File.ReadLines(path, Encoding.UTF8)) vocab[line] = index++;
        if (vocab.Count == 0) throw new PeftException($"{path}: the vocabulary is empty.");
        return vocab;
    }

    public int Size { get; }

    public void Encode(string piece, List<int> ids)
    {
        int codePoints = 0;
        foreach (var _ in piece.EnumerateRunes()) codePoints++;
        if (codePoints > _maxCharsPerWord) { ids.Add(_unkId); return; }
        ids.AddRange(_wordPiece.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
    }

    public string? IdToToken(int id) => _reverse.GetValueOrDefault(id);
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;
}
