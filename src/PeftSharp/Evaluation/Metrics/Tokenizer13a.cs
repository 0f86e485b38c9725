using System.Text;

namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// sacreBLEU's default tokenizer, equivalent to WMT's mteval-v13a.pl: unescapes a few HTML entities, splits off
/// ASCII punctuation and symbols, and splits periods and commas except inside numbers.
/// </summary>
public sealed class Tokenizer13a : IBleuTokenizer
{
    public string Signature => "13a";

    public string Tokenize(string line)
    {
        line = line.Replace("<skipped>", "", StringComparison.Ordinal)
            .Replace("-\n", "", StringComparison.Ordinal)
            .Replace("\n", " ", StringComparison.Ordinal);
        if (line.Contains('&'))
        {
            line = line.Replace("&quot;", "\"", StringComparison.Ordinal)
                .Replace("&amp;", "&", StringComparison.Ordinal)
                .Replace("&lt;", "<", StringComparison.Ordinal)
                .Replace("&gt;", ">", StringComparison.Ordinal);
        }
        string s = SpaceOutSymbols(" " + line + " ");
        s = SplitPairs(s, (a, b) => !IsDigit(a) && b is '.' or ',', trailingSpace: true);
        s = SplitPairs(s, (a, b) => a is '.' or ',' && !IsDigit(b), trailingSpace: false);
        s = SplitPairs(s, (a, b) => IsDigit(a) && b == '-', trailingSpace: true);
        return PyText.NormalizeSpaces(s);
    }

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    // [\{-\~\[-\` -\&\(-\+\:-\@\/]
    private static bool IsSplitSymbol(char c) =>
        c is (>= '{' and <= '~') or (>= '[' and <= '`') or (>= ' ' and <= '&') or (>= '(' and <= '+')
            or (>= ':' and <= '@') or '/';

    private static string SpaceOutSymbols(string s)
    {
        var sb = new StringBuilder(s.Length * 2);
        foreach (char c in s)
        {
            if (IsSplitSymbol(c)) sb.Append(' ').Append(c).Append(' ');
            else sb.Append(c);
        }
        return sb.ToString();
    }

    // re.sub of a two-character pattern: leftmost, non-overlapping matches. Replacement is "\1 \2 " when
    // trailingSpace, else " \1 \2". Working on UTF-16 units is safe here: every class involved is ASCII or its
    // complement, and a surrogate half never changes whether the neighbouring ASCII character matches.
    private static string SplitPairs(string s, Func<char, char, bool> match, bool trailingSpace)
    {
        var sb = new StringBuilder(s.Length + 16);
        int i = 0;
        while (i < s.Length)
        {
            if (i + 1 < s.Length && match(s[i], s[i + 1]))
            {
                if (trailingSpace) sb.Append(s[i]).Append(' ').Append(s[i + 1]).Append(' ');
                else sb.Append(' ').Append(s[i]).Append(' ').Append(s[i + 1]);
                i += 2;
            }
            else
            {
                sb.Append(s[i]);
                i++;
            }
        }
        return sb.ToString();
    }
}
