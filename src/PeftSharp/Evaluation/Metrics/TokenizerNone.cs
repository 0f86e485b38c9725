namespace PeftSharp.Evaluation.Metrics;

/// <summary>No tokenization, for text that is already tokenized; BLEU then only splits on whitespace.</summary>
public sealed class TokenizerNone : IBleuTokenizer
{
    public string Signature => "none";

    public string Tokenize(string line) => line;
}
