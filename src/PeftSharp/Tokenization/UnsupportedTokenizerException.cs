namespace PeftSharp.Tokenization;

/// <summary>
/// A well-formed tokenizer file that uses a component we do not implement (say a Unigram tokenizer.json). Kept apart
/// from other errors so that AutoTokenizer can fall back to another file of the folder, such as a SentencePiece model.
/// </summary>
internal sealed class UnsupportedTokenizerException(string message) : PeftException(message);
