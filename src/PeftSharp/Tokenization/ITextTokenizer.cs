namespace PeftSharp.Tokenization;

/// <summary>
/// What training and inference need from a tokenizer, whatever files it was built from. Ids are meant to equal
/// Hugging Face's for the same model folder, so that a model trained in Python sees the same ids here.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>Text to ids; <paramref name="addSpecialTokens"/> adds what the model expects around a sequence ([CLS] … [SEP], BOS, …).</summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    /// <summary>Ids to text; unknown ids are skipped.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);

    /// <summary>Adds the special tokens of a single sequence around ids that were encoded without them (used after truncation).</summary>
    IReadOnlyList<int> AddSpecialTokens(IReadOnlyList<int> ids);

    /// <summary>One past the highest id, added tokens included (Hugging Face's <c>len(tokenizer)</c>): the embedding rows a model needs.</summary>
    int VocabSize { get; }

    int? PadTokenId { get; }
    int? BosTokenId { get; }
    int? EosTokenId { get; }
    int? UnkTokenId { get; }
    int? ClsTokenId { get; }
    int? SepTokenId { get; }
    int? MaskTokenId { get; }

    /// <summary>Ids that <see cref="Decode"/> drops when asked to skip special tokens.</summary>
    IReadOnlySet<int> SpecialTokenIds { get; }

    /// <summary>The vocabulary string of an id (byte-level BPE shows its 'Ġ'-style form), or null for an unknown id.</summary>
    string? IdToToken(int id);

    /// <summary>The id of a vocabulary string, or null.</summary>
    int? TokenToId(string token);
}
