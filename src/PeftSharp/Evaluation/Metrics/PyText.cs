using System.Globalization;
using System.Text;

namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Python's str semantics that the reference metrics silently depend on: which characters <c>str.split()</c> treats as
/// whitespace (more than .NET's), how <c>str.lower()</c> lower-cases (full mappings, final sigma, Unicode 15.1), and
/// that indexing counts code points, not UTF-16 units. Getting any of these slightly wrong changes n-gram counts.
/// </summary>
public static class PyText
{
    /// <summary>Python's <c>str.isspace()</c>: bidi class WS, B or S, or category Zs.</summary>
    public static bool IsSpace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D => true,
        >= 0x1C and <= 0x20 => true,
        0x85 or 0xA0 or 0x1680 => true,
        >= 0x2000 and <= 0x200A => true,
        0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };

    /// <summary>Python's <c>str.split()</c> without arguments: runs of whitespace separate, empty pieces dropped.</summary>
    public static List<string> Split(string s)
    {
        var parts = new List<string>();
        int start = -1;
        for (int i = 0; i < s.Length; i++)
        {
            if (IsSpace(s[i]))
            {
                if (start >= 0) { parts.Add(s[start..i]); start = -1; }
            }
            else if (start < 0)
            {
                start = i;
            }
        }
        if (start >= 0) parts.Add(s[start..]);
        return parts;
    }

    /// <summary>Python's <c>' '.join(s.split())</c>.</summary>
    public static string NormalizeSpaces(string s) => string.Join(' ', Split(s));

    /// <summary>Python's <c>str.rstrip()</c>.</summary>
    public static string RStrip(string s)
    {
        int end = s.Length;
        while (end > 0 && IsSpace(s[end - 1])) end--;
        return end == s.Length ? s : s[..end];
    }

    /// <summary>Python's <c>''.join(s.split())</c>: every whitespace character removed.</summary>
    public static string RemoveSpaces(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (!IsSpace(c)) sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>The code points of <paramref name="s"/>, each as a string (Python indexes code points).</summary>
    public static string[] CodePoints(string s)
    {
        var list = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                list.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                list.Add(s[i].ToString());
            }
        }
        return list.ToArray();
    }

    /// <summary>Python's <c>str.lower()</c>.</summary>
    public static string Lower(string s)
    {
        var runes = new List<Rune>(s.Length);
        foreach (var r in s.EnumerateRunes()) runes.Add(r);
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < runes.Count; i++)
        {
            int cp = runes[i].Value;
            if (cp == 0x130)
            {
                sb.Append("i\u0307"); // the one unconditional multi-character lower-case mapping
            }
            else if (cp == 0x3A3)
            {
                sb.Append(IsFinalSigma(runes, i) ? '\u03C2' : '\u03C3');
            }
            else if (cp < 0x80)
            {
                sb.Append(cp is >= 'A' and <= 'Z' ? (char)(cp + 32) : (char)cp);
            }
            else if (AddedAfterPython313Unicode(cp))
            {
                sb.Append(runes[i].ToString());
            }
            else
            {
                sb.Append(Rune.ToLowerInvariant(runes[i]).ToString());
            }
        }
        return sb.ToString();
    }

    // CPython: sigma is final when a cased letter precedes it and none follows (case-ignorables skipped both ways).
    private static bool IsFinalSigma(List<Rune> runes, int i)
    {
        int j = i - 1;
        while (j >= 0 && IsCaseIgnorable(runes[j])) j--;
        if (j < 0 || !IsCased(runes[j])) return false;
        j = i + 1;
        while (j < runes.Count && IsCaseIgnorable(runes[j])) j++;
        return j == runes.Count || !IsCased(runes[j]);
    }

    private static bool IsCased(Rune r)
    {
        var cat = Rune.GetUnicodeCategory(r);
        return cat is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            || Rune.ToLowerInvariant(r) != r || Rune.ToUpperInvariant(r) != r;
    }

    private static bool IsCaseIgnorable(Rune r)
    {
        switch (r.Value)
        {
            case 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019 or 0x2024 or 0x2027
                or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A:
                return true;
        }
        var cat = Rune.GetUnicodeCategory(r);
        return cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
    }

    // Upper-case letters new in Unicode 16.0: .NET 10 lower-cases them, Python 3.13 (Unicode 15.1) does not.
    private static bool AddedAfterPython313Unicode(int cp) =>
        cp is 0x1C89 or 0xA7CB or 0xA7CC or 0xA7DA or 0xA7DC or (>= 0x10D50 and <= 0x10D65);
}
