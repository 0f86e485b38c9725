namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// The Porter stemmer as NLTK's <c>PorterStemmer()</c> behaves in its default NLTK_EXTENSIONS mode, because that is
/// what rouge_score stems with: Martin Porter's later fixes plus NLTK's own (an irregular-forms pool, "ies"/"ied" on
/// four-letter words, y-to-i only after a consonant, "alli", "fulli", "logi", and cvc on two-letter stems).
/// </summary>
public sealed class PorterStemmer
{
    private static readonly Dictionary<string, string> Pool = BuildPool();

    private static Dictionary<string, string> BuildPool()
    {
        var irregular = new (string Stem, string[] Forms)[]
        {
            ("sky", ["sky", "skies"]), ("die", ["dying"]), ("lie", ["lying"]), ("tie", ["tying"]),
            ("news", ["news"]), ("inning", ["innings", "inning"]), ("outing", ["outings", "outing"]),
            ("canning", ["cannings", "canning"]), ("howe", ["howe"]), ("proceed", ["proceed"]),
            ("exceed", ["exceed"]), ("succeed", ["succeed"]),
        };
        var pool = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (stem, forms) in irregular)
            foreach (string form in forms) pool[form] = stem;
        return pool;
    }

    /// <summary>Stems one word; like NLTK it lower-cases first.</summary>
    public string Stem(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        string stem = PyText.Lower(word);
        if (Pool.TryGetValue(word, out string? irregular)) return irregular;
        if (word.Length <= 2) return stem;
        stem = Step1a(stem);
        stem = Step1b(stem);
        stem = Step1c(stem);
        stem = Step2(stem);
        stem = Step3(stem);
        stem = Step4(stem);
        stem = Step5a(stem);
        stem = Step5b(stem);
        return stem;
    }

    // y is a consonant at the start of a word or after a vowel, and a vowel after a consonant.
    private static bool IsConsonant(string word, int i)
    {
        char c = word[i];
        if (c is 'a' or 'e' or 'i' or 'o' or 'u') return false;
        if (c == 'y') return i == 0 || !IsConsonant(word, i - 1);
        return true;
    }

    private static int Measure(string stem)
    {
        int m = 0;
        bool previousVowel = false;
        for (int i = 0; i < stem.Length; i++)
        {
            bool consonant = IsConsonant(stem, i);
            if (consonant && previousVowel) m++;
            previousVowel = !consonant;
        }
        return m;
    }

    private static bool HasPositiveMeasure(string stem) => Measure(stem) > 0;

    private static bool ContainsVowel(string stem)
    {
        for (int i = 0; i < stem.Length; i++)
        {
            if (!IsConsonant(stem, i)) return true;
        }
        return false;
    }

    private static bool EndsDoubleConsonant(string word) =>
        word.Length >= 2 && word[^1] == word[^2] && IsConsonant(word, word.Length - 1);

    private static bool EndsCvc(string word) =>
        (word.Length >= 3
            && IsConsonant(word, word.Length - 3)
            && !IsConsonant(word, word.Length - 2)
            && IsConsonant(word, word.Length - 1)
            && word[^1] is not ('w' or 'x' or 'y'))
        || (word.Length == 2 && !IsConsonant(word, 0) && IsConsonant(word, 1));

    private static string Strip(string word, string suffix) => word[..^suffix.Length];

    /// <summary>
    /// One rule: a suffix (or "*d" for a double consonant), its replacement, and a condition on the stem. The first
    /// rule whose suffix fits decides: applied when its condition holds, otherwise the word stays as it is.
    /// </summary>
    private sealed record Rule(string Suffix, string Replacement, Func<string, bool>? Condition);

    private static string ApplyRules(string word, IEnumerable<Rule> rules)
    {
        foreach (var rule in rules)
        {
            if (rule.Suffix == "*d" && EndsDoubleConsonant(word))
            {
                string stem = word[..^2];
                return rule.Condition is null || rule.Condition(stem) ? stem + rule.Replacement : word;
            }
            if (word.EndsWith(rule.Suffix, StringComparison.Ordinal))
            {
                string stem = Strip(word, rule.Suffix);
                return rule.Condition is null || rule.Condition(stem) ? stem + rule.Replacement : word;
            }
        }
        return word;
    }

    private static string Step1a(string word)
    {
        if (word.EndsWith("ies", StringComparison.Ordinal) && word.Length == 4) return Strip(word, "ies") + "ie";
        return ApplyRules(word, [new("sses", "ss", null), new("ies", "i", null), new("ss", "ss", null), new("s", "", null)]);
    }

    private static string Step1b(string word)
    {
        if (word.EndsWith("ied", StringComparison.Ordinal))
            return Strip(word, "ied") + (word.Length == 4 ? "ie" : "i");
        if (word.EndsWith("eed", StringComparison.Ordinal))
        {
            string stem = Strip(word, "eed");
            return Measure(stem) > 0 ? stem + "ee" : word;
        }

        string? intermediate = null;
        foreach (string suffix in new[] { "ed", "ing" })
        {
            if (word.EndsWith(suffix, StringComparison.Ordinal))
            {
                string candidate = Strip(word, suffix);
                if (ContainsVowel(candidate))
                {
                    intermediate = candidate;
                    break;
                }
            }
        }
        if (intermediate is null) return word;

        char last = intermediate[^1];
        return ApplyRules(intermediate,
        [
            new("at", "ate", null),
            new("bl", "ble", null),
            new("iz", "ize", null),
            new("*d", last.ToString(), _ => last is not ('l' or 's' or 'z')),
            new("", "e", stem => Measure(stem) == 1 && EndsCvc(stem)),
        ]);
    }

    private static string Step1c(string word) =>
        ApplyRules(word, [new("y", "i", stem => stem.Length > 1 && IsConsonant(stem, stem.Length - 1))]);

    private static string Step2(string word)
    {
        if (word.EndsWith("alli", StringComparison.Ordinal) && HasPositiveMeasure(Strip(word, "alli")))
            return Step2(Strip(word, "alli") + "al");

        Func<string, bool> m = HasPositiveMeasure;
        return ApplyRules(word,
        [
            new("ational", "ate", m), new("tional", "tion", m), new("enci", "ence", m), new("anci", "ance", m),
            new("izer", "ize", m), new("bli", "ble", m), new("alli", "al", m), new("entli", "ent", m),
            new("eli", "e", m), new("ousli", "ous", m), new("ization", "ize", m), new("ation", "ate", m),
            new("ator", "ate", m), new("alism", "al", m), new("iveness", "ive", m), new("fulness", "ful", m),
            new("ousness", "ous", m), new("aliti", "al", m), new("iviti", "ive", m), new("biliti", "ble", m),
            new("fulli", "ful", m),
            // NLTK measures the word without "ogi" here, not the stem without "logi".
            new("logi", "log", _ => HasPositiveMeasure(word[..^3])),
        ]);
    }

    private static string Step3(string word)
    {
        Func<string, bool> m = HasPositiveMeasure;
        return ApplyRules(word,
        [
            new("icate", "ic", m), new("ative", "", m), new("alize", "al", m), new("iciti", "ic", m),
            new("ical", "ic", m), new("ful", "", m), new("ness", "", m),
        ]);
    }

    private static string Step4(string word)
    {
        Func<string, bool> m = stem => Measure(stem) > 1;
        return ApplyRules(word,
        [
            new("al", "", m), new("ance", "", m), new("ence", "", m), new("er", "", m), new("ic", "", m),
            new("able", "", m), new("ible", "", m), new("ant", "", m), new("ement", "", m), new("ment", "", m),
            new("ent", "", m), new("ion", "", stem => Measure(stem) > 1 && stem[^1] is 's' or 't'),
            new("ou", "", m), new("ism", "", m), new("ate", "", m), new("iti", "", m), new("ous", "", m),
            new("ive", "", m), new("ize", "", m),
        ]);
    }

    private static string Step5a(string word)
    {
        if (!word.EndsWith('e')) return word;
        string stem = word[..^1];
        int measure = Measure(stem);
        if (measure > 1) return stem;
        if (measure == 1 && !EndsCvc(stem)) return stem;
        return word;
    }

    private static string Step5b(string word) =>
        ApplyRules(word, [new("ll", "l", _ => Measure(word[..^1]) > 1)]);
}
