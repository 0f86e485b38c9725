namespace PeftSharp.Evaluation.Metrics;

/// <summary>sacreBLEU's <c>char</c> tokenizer: every code point is a token, for languages written without spaces.</summary>
public sealed class TokenizerChar : IBleuTokenizer
{
    public string Signature => "char";

    public string Tokenize(string line) => string.Join(' ', PyText.CodePoints(line));
}
