using System.Globalization;

namespace PeftSharp.Tokenization;

/// <summary>
/// The character classes Hugging Face's BERT tokenizers use (BasicTokenizer in Python, BertNormalizer and
/// BertPreTokenizer in Rust). They differ from .NET's char.IsPunctuation and friends: ASCII symbols such as $ + ^ `
/// count as punctuation, and Cn/Co count as control. Getting these exactly right is what makes ids match.
/// </summary>
internal static class BertCharClasses
{
    public static UnicodeCategory Category(int cp) => CharUnicodeInfo.GetUnicodeCategory(cp);

    /// <summary>Python's _is_whitespace: space, tab, newline, carriage return or any Zs.</summary>
    public static bool IsBertWhitespace(int cp) =>
        cp is ' ' or '\t' or '\n' or '\r' || Category(cp) == UnicodeCategory.SpaceSeparator;

    /// <summary>Python's _is_control: category C* except tab, newline and carriage return.</summary>
    public static bool IsControl(int cp)
    {
        if (cp is '\t' or '\n' or '\r') return false;
        return Category(cp) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    /// <summary>Python's _is_punctuation: every non-alphanumeric ASCII character, and every Unicode P* category.</summary>
    public static bool IsPunctuation(int cp)
    {
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Category(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>The CJK Unified Ideograph blocks BERT splits into single characters (not Hiragana, Katakana or Hangul).</summary>
    public static bool IsCjk(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    /// <summary>Python's str.isspace / str.split() whitespace (a superset of Rust's char::is_whitespace).</summary>
    public static bool IsPythonSpace(int cp) =>
        cp is >= 0x09 and <= 0x0D or >= 0x1C and <= 0x20 or 0x85 or 0xA0 or 0x1680 or >= 0x2000 and <= 0x200A
            or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;
}
