using System.Text;
using System.Text.RegularExpressions;

namespace PeftSharp.Tokenization;

/// <summary>
/// A pre-tokenizer step of Hugging Face's pipeline (tokenizer.json "pre_tokenizer"): cuts normalized text into the
/// pieces the model encodes one by one. <c>atTextStart</c> tells whether a piece begins the input (Metaspace's
/// prepend_scheme "first" needs it; text after an added token does not begin it).
/// </summary>
internal interface IPreTokenizer
{
    IEnumerable<string> Split(string piece, bool atTextStart);
}

/// <summary>What happens to the matched delimiters of a split (tokenizers' SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>Cuts a string at delimiter matches according to a <see cref="SplitBehavior"/>; empty pieces are dropped.</summary>
internal static class DelimiterSplitter
{
    public static List<string> Split(string text, IEnumerable<(int Start, int Length)> matches, SplitBehavior behavior, bool invert = false)
    {
        var segments = new List<(int Start, int End, bool IsMatch)>();
        int pos = 0;
        foreach (var (start, length) in matches)
        {
            if (length == 0) continue;
            if (start > pos) segments.Add((pos, start, invert));
            segments.Add((start, start + length, !invert));
            pos = start + length;
        }
        if (pos < text.Length) segments.Add((pos, text.Length, invert));

        var pieces = new List<string>();
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var s in segments) if (!s.IsMatch) pieces.Add(text[s.Start..s.End]);
                break;
            case SplitBehavior.Isolated:
                foreach (var s in segments) pieces.Add(text[s.Start..s.End]);
                break;
            case SplitBehavior.Contiguous:
                for (int i = 0; i < segments.Count; i++)
                {
                    int begin = segments[i].Start, stop = segments[i].End;
                    while (segments[i].IsMatch && i + 1 < segments.Count && segments[i + 1].IsMatch) stop = segments[++i].End;
                    pieces.Add(text[begin..stop]);
                }
                break;
            case SplitBehavior.MergedWithPrevious:
            {
                int? pending = null; // start of a non-match waiting for the delimiter after it
                foreach (var s in segments)
                {
                    if (s.IsMatch) { pieces.Add(text[(pending ?? s.Start)..s.End]); pending = null; }
                    else pending = s.Start;
                }
                if (pending is { } rest) pieces.Add(text[rest..]);
                break;
            }
            case SplitBehavior.MergedWithNext:
            {
                int? pending = null; // start of a delimiter waiting for the text after it
                foreach (var s in segments)
                {
                    if (s.IsMatch)
                    {
                        if (pending is { } p) pieces.Add(text[p..s.Start]);
                        pending = s.Start;
                    }
                    else { pieces.Add(text[(pending ?? s.Start)..s.End]); pending = null; }
                }
                if (pending is { } rest) pieces.Add(text[rest..]);
                break;
            }
        }
        pieces.RemoveAll(p => p.Length == 0);
        return pieces;
    }

    public static IEnumerable<(int, int)> RegexMatches(Regex regex, string text)
    {
        for (var m = regex.Match(text); m.Success; m = m.NextMatch()) yield return (m.Index, m.Length);
    }

    public static IEnumerable<(int, int)> CharMatches(string text, Func<int, bool> isDelimiter)
    {
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePointAt(text, i, out int width);
            if (isDelimiter(cp)) yield return (i, width);
            i += width;
        }
    }

    public static int CodePointAt(string text, int i, out int width)
    {
        if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { width = 2; return char.ConvertToUtf32(text[i], text[i + 1]); }
        width = 1;
        return text[i];
    }
}

/// <summary>BertPreTokenizer (and the slow BasicTokenizer's split): whitespace removed, every punctuation character on its own.</summary>
internal sealed class BertPreTokenizer : IPreTokenizer
{
    public IEnumerable<string> Split(string piece, bool atTextStart)
    {
        var sb = new StringBuilder();
        foreach (var rune in piece.EnumerateRunes())
        {
            int cp = rune.Value;
            if (BertCharClasses.IsPythonSpace(cp))
            {
                if (sb.Length > 0) { yield return sb.ToString(); sb.Clear(); }
            }
            else if (BertCharClasses.IsPunctuation(cp))
            {
                if (sb.Length > 0) { yield return sb.ToString(); sb.Clear(); }
                yield return rune.ToString();
            }
            else sb.Append(rune.ToString());
        }
        if (sb.Length > 0) yield return sb.ToString();
    }
}

/// <summary>tokenizer.json Whitespace: runs of word characters and runs of other non-space characters.</summary>
internal sealed class WhitespacePreTokenizer : IPreTokenizer
{
    private static readonly Regex Pattern = new(@"\w+|[^\w\s]+", RegexOptions.CultureInvariant);
    public IEnumerable<string> Split(string piece, bool atTextStart) =>
        DelimiterSplitter.RegexMatches(Pattern, piece).Select(m => piece.Substring(m.Item1, m.Item2));
}

/// <summary>tokenizer.json WhitespaceSplit: cut at whitespace, drop it.</summary>
internal sealed class WhitespaceSplitPreTokenizer : IPreTokenizer
{
    public IEnumerable<string> Split(string piece, bool atTextStart) =>
        DelimiterSplitter.Split(piece, DelimiterSplitter.CharMatches(piece, cp => cp <= 0xFFFF && char.IsWhiteSpace((char)cp)), SplitBehavior.Removed);
}

/// <summary>tokenizer.json Punctuation: Bert's punctuation class with a delimiter behavior.</summary>
internal sealed class PunctuationPreTokenizer(SplitBehavior behavior) : IPreTokenizer
{
    public IEnumerable<string> Split(string piece, bool atTextStart) =>
        DelimiterSplitter.Split(piece, DelimiterSplitter.CharMatches(piece, BertCharClasses.IsPunctuation), behavior);
}

/// <summary>tokenizer.json Digits: digits apart from letters, one by one or as runs.</summary>
internal sealed class DigitsPreTokenizer(bool individualDigits) : IPreTokenizer
{
    public IEnumerable<string> Split(string piece, bool atTextStart) =>
        DelimiterSplitter.Split(piece, DelimiterSplitter.CharMatches(piece, cp => cp <= 0xFFFF && char.IsDigit((char)cp)),
            individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous);
}

/// <summary>tokenizer.json Split: a regex or literal delimiter with a behavior (Llama 3 and Qwen2 put their pattern here).</summary>
internal sealed class RegexSplitPreTokenizer(Regex pattern, SplitBehavior behavior, bool invert) : IPreTokenizer
{
    public IEnumerable<string> Split(string piece, bool atTextStart) =>
        DelimiterSplitter.Split(piece, DelimiterSplitter.RegexMatches(pattern, piece), behavior, invert);
}

/// <summary>
/// tokenizer.json ByteLevel pre-tokenizer (GPT-2): optional prefix space, then GPT-2's regex. The byte-to-character
/// mapping itself is left to the byte-level BPE model.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : IPreTokenizer
{
    /// <summary>GPT-2's pre-tokenization pattern, as in its encoder.py and tokenizers' ByteLevel.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Llama 3's Split pattern (tiktoken's cl100k): numbers in groups of up to three digits.</summary>
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2's Split pattern: like Llama 3's but every digit alone.</summary>
    public const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static readonly Regex Gpt2Regex = new(Gpt2Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);

    public IEnumerable<string> Split(string piece, bool atTextStart)
    {
        if (addPrefixSpace && !piece.StartsWith(' ')) piece = " " + piece;
        if (!useRegex) return [piece];
        return DelimiterSplitter.Split(piece, DelimiterSplitter.RegexMatches(Gpt2Regex, piece), SplitBehavior.Isolated);
    }
}

/// <summary>When Metaspace puts its "▁" in front of a piece.</summary>
internal enum PrependScheme { Always, First, Never }

/// <summary>tokenizer.json Metaspace (SentencePiece-style): spaces become "▁", a "▁" is prepended, pieces start at each "▁".</summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme scheme, bool split) : IPreTokenizer
{
    public IEnumerable<string> Split(string piece, bool atTextStart)
    {
        piece = piece.Replace(' ', replacement);
        bool prepend = scheme == PrependScheme.Always || scheme == PrependScheme.First && atTextStart;
        if (prepend && !piece.StartsWith(replacement)) piece = replacement + piece;
        if (!split) return [piece];
        return DelimiterSplitter.Split(piece, DelimiterSplitter.CharMatches(piece, cp => cp == replacement), SplitBehavior.MergedWithNext);
    }
}

/// <summary>tokenizer.json Sequence of pre-tokenizers, each applied to every piece the previous one produced.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> steps) : IPreTokenizer
{
    public IEnumerable<string> Split(string piece, bool atTextStart)
    {
        IEnumerable<(string Piece, bool AtStart)> pieces = [(piece, atTextStart)];
        foreach (var step in steps)
        {
            var next = new List<(string, bool)>();
            foreach (var (p, start) in pieces)
            {
                bool first = true;
                foreach (var q in step.Split(p, start)) { next.Add((q, start && first)); first = false; }
            }
            pieces = next;
        }
        return pieces.Select(p => p.Piece);
    }
}
