using System.Globalization;
using System.Text;

namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// sacreBLEU's <c>intl</c> tokenizer (mteval-v14 international): splits Unicode punctuation off unless it sits
/// between digits, and every Unicode symbol. Works on code points, as Python's <c>regex</c> module does, so
/// punctuation outside the BMP is handled like any other. Categories come from .NET 10's Unicode 16.0 tables; only
/// characters first assigned in Unicode 16.0 could be classed differently by an older <c>regex</c> build.
/// </summary>
public sealed class TokenizerIntl : IBleuTokenizer
{
    public string Signature => "intl";

    public string Tokenize(string line)
    {
        var cps = new List<int>(line.Length);
        foreach (var r in line.EnumerateRunes()) cps.Add(r.Value);
        // (\P{N})(\p{P}) -> "\1 \2 "
        cps = SplitPairs(cps, (a, b) => !IsNumber(a) && IsPunctuation(b), trailingSpace: true);
        // (\p{P})(\P{N}) -> " \1 \2"
        cps = SplitPairs(cps, (a, b) => IsPunctuation(a) && !IsNumber(b), trailingSpace: false);
        var sb = new StringBuilder(line.Length * 2);
        foreach (int cp in cps)
        {
            // (\p{S}) -> " \1 "
            if (IsSymbol(cp)) sb.Append(' ').Append(char.ConvertFromUtf32(cp)).Append(' ');
            else sb.Append(char.ConvertFromUtf32(cp));
        }
        return PyText.NormalizeSpaces(sb.ToString());
    }

    private static List<int> SplitPairs(List<int> cps, Func<int, int, bool> match, bool trailingSpace)
    {
        var result = new List<int>(cps.Count + 16);
        int i = 0;
        while (i < cps.Count)
        {
            if (i + 1 < cps.Count && match(cps[i], cps[i + 1]))
            {
                if (trailingSpace) result.AddRange([cps[i], ' ', cps[i + 1], ' ']);
                else result.AddRange([' ', cps[i], ' ', cps[i + 1]]);
                i += 2;
            }
            else
            {
                result.Add(cps[i]);
                i++;
            }
        }
        return result;
    }

    private static UnicodeCategory Category(int cp) => CharUnicodeInfo.GetUnicodeCategory(cp);

    private static bool IsNumber(int cp) => Category(cp) is UnicodeCategory.DecimalDigitNumber
        or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    private static bool IsPunctuation(int cp) => Category(cp) is UnicodeCategory.ConnectorPunctuation
        or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
        or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
        or UnicodeCategory.OtherPunctuation;

    private static bool IsSymbol(int cp) => Category(cp) is UnicodeCategory.MathSymbol
        or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;
}
