using System.Globalization;
using System.Text;

namespace PeftSharp.Tokenization;

/// <summary>
/// Hugging Face's BERT normalization (clean control characters, pad CJK ideographs with spaces, lower-case, strip
/// accents), written out because Microsoft.ML.Tokenizers' BertTokenizer disagrees on accents and ASCII symbols.
/// <paramref name="pythonOrder"/> follows the slow Python BertTokenizer (NFC first, lower-case then strip, Python's
/// final-sigma rule) that a bare vocab.txt implies; otherwise the Rust BertNormalizer order of tokenizer.json.
/// </summary>
internal sealed class BertTextNormalizer(bool cleanText, bool handleChineseChars, bool? stripAccents, bool lowercase, bool pythonOrder) : ITextNormalizer
{
    public string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = rune.Value;
            if (cleanText)
            {
                if (cp == 0 || cp == 0xFFFD || BertCharClasses.IsControl(cp)) continue;
                if (BertCharClasses.IsBertWhitespace(cp)) { sb.Append(' '); continue; }
            }
            if (handleChineseChars && BertCharClasses.IsCjk(cp)) sb.Append(' ').Append(rune.ToString()).Append(' ');
            else sb.Append(rune.ToString());
        }
        string s = sb.ToString();
        // Accents are stripped when asked, and by default whenever lower-casing (strip_accents=None follows lowercase).
        bool strip = stripAccents ?? lowercase;
        if (pythonOrder)
        {
            s = s.Normalize(NormalizationForm.FormC);
            if (lowercase) s = PythonLower(s);
            if (strip) s = StripAccents(s);
        }
        else
        {
            if (strip) s = StripAccents(s);
            if (lowercase) s = RustLower(s);
        }
        return s;
    }

    /// <summary>NFD, then drop the non-spacing marks (Mn) that carry the accents.</summary>
    public static string StripAccents(string s)
    {
        string d = s.Normalize(NormalizationForm.FormD);
        var sb = new StringBuilder(d.Length);
        foreach (var r in d.EnumerateRunes())
            if (Rune.GetUnicodeCategory(r) != UnicodeCategory.NonSpacingMark) sb.Append(r.ToString());
        return sb.ToString();
    }

    /// <summary>Per-character full lower-casing, as Rust's char::to_lowercase (İ becomes i + U+0307).</summary>
    public static string RustLower(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var r in s.EnumerateRunes())
        {
            if (r.Value == 0x130) sb.Append("i\u0307");
            else sb.Append(Rune.ToLowerInvariant(r).ToString());
        }
        return sb.ToString();
    }

    /// <summary>Python's str.lower(): full lower-casing plus the final-sigma rule (Σ at the end of a word becomes ς).</summary>
    public static string PythonLower(string s)
    {
        if (s.IndexOf('\u03A3') < 0) return RustLower(s);
        var runes = s.EnumerateRunes().ToArray();
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < runes.Length; i++)
        {
            if (runes[i].Value == 0x3A3 && IsFinalSigma(runes, i)) sb.Append('\u03C2');
            else if (runes[i].Value == 0x130) sb.Append("i\u0307");
            else sb.Append(Rune.ToLowerInvariant(runes[i]).ToString());
        }
        return sb.ToString();
    }

    private static bool IsFinalSigma(Rune[] runes, int i)
    {
        int j = i - 1;
        while (j >= 0 && IsCaseIgnorable(runes[j])) j--;
        if (j < 0 || !IsCased(runes[j])) return false;
        j = i + 1;
        while (j < runes.Length && IsCaseIgnorable(runes[j])) j++;
        return j >= runes.Length || !IsCased(runes[j]);
    }

    private static bool IsCased(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.UppercaseLetter
        or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;

    // An approximation of Unicode's Case_Ignorable: marks, format characters, modifiers and word-internal punctuation.
    private static bool IsCaseIgnorable(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark
        or UnicodeCategory.EnclosingMark or UnicodeCategory.Format or UnicodeCategory.ModifierLetter
        or UnicodeCategory.ModifierSymbol || r.Value is '\'' or '.' or ':' or 0xB7 or 0x2018 or 0x2019 or 0x2024 or 0x2027;
}
