namespace PeftSharp.Tokenization;

/// <summary>
/// The model step of Hugging Face's pipeline: one pre-tokenized piece to ids. The implementations delegate the
/// actual WordPiece / BPE work to Microsoft.ML.Tokenizers and only add what is needed to match Hugging Face.
/// </summary>
internal interface ITokenModel
{
    void Encode(string piece, List<int> ids);
    string? IdToToken(int id);
    int? TokenToId(string token);

    /// <summary>One past the highest id of the vocabulary.</summary>
    int Size { get; }
}
