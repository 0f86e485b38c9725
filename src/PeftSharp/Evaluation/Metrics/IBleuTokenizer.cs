namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Turns a raw segment into space-separated tokens before BLEU counts n-grams. BLEU numbers are only comparable
/// when the tokenizer is the same, which is why its name goes into the signature.
/// </summary>
public interface IBleuTokenizer
{
    /// <summary>The name sacreBLEU prints in the signature (<c>tok:13a</c>).</summary>
    string Signature { get; }

    string Tokenize(string line);
}
