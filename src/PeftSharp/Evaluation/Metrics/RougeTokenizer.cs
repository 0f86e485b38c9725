using System.Text;

namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// rouge_score's default tokenizer: Python lower-casing, everything outside [a-z0-9] becomes a space (so accented
/// letters and non-Latin scripts vanish, as they do in ROUGE-1.5.5), split on whitespace, and with a stemmer only
/// tokens longer than three characters are stemmed.
/// </summary>
public sealed class RougeTokenizer
{
    private readonly PorterStemmer? _stemmer;

    public RougeTokenizer(bool useStemmer)
    {
        _stemmer = useStemmer ? new PorterStemmer() : null;
    }

    public List<string> Tokenize(string text)
    {
        string lower = PyText.Lower(text);
        var tokens = new List<string>();
        var current = new StringBuilder();
        foreach (char c in lower)
        {
            if (c is (>= 'a' and <= 'z') or (>= '0' and <= '9'))
            {
                current.Append(c);
            }
            else if (current.Length > 0)
            {
                tokens.Add(current.ToString());
                current.Clear();
            }
        }
        if (current.Length > 0) tokens.Add(current.ToString());
        if (_stemmer is null) return tokens;
        var stemmed = new List<string>(tokens.Count);
        foreach (string token in tokens)
        {
            string t = token.Length > 3 ? _stemmer.Stem(token) : token;
            if (t.Length > 0) stemmed.Add(t);
        }
        return stemmed;
    }
}
