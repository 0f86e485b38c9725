namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// The fraction of predictions identical to a reference (any of them, when there are several). Strict by default,
/// because "almost equal" is what the other metrics are for; case and ASCII punctuation can be ignored on request,
/// as in Hugging Face's exact_match.
/// </summary>
public static class ExactMatch
{
    private const string AsciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    public static double Score(IReadOnlyList<string> predictions, IReadOnlyList<string> references,
        bool ignoreCase = false, bool ignorePunctuation = false)
    {
        ArgumentNullException.ThrowIfNull(references);
        return Score(predictions, references.Select(r => (IReadOnlyList<string>)[r]).ToArray(), ignoreCase, ignorePunctuation);
    }

    public static double Score(IReadOnlyList<string> predictions, IReadOnlyList<IReadOnlyList<string>> references,
        bool ignoreCase = false, bool ignorePunctuation = false)
    {
        MetricInputs.Check(predictions, references);
        int matches = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            string p = Normalize(predictions[i], ignoreCase, ignorePunctuation);
            if (references[i].Any(r => string.Equals(p, Normalize(r, ignoreCase, ignorePunctuation), StringComparison.Ordinal)))
                matches++;
        }
        return (double)matches / predictions.Count;
    }

    private static string Normalize(string s, bool ignoreCase, bool ignorePunctuation)
    {
        if (ignoreCase) s = PyText.Lower(s);
        if (ignorePunctuation) s = string.Concat(s.Where(c => !AsciiPunctuation.Contains(c)));
        return s;
    }
}
