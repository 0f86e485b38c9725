using System.Text;
using System.Text.RegularExpressions;

namespace PeftSharp.Tokenization;

/// <summary>
/// The decoder step of Hugging Face's pipeline: token strings back to text pieces, undoing what the pre-tokenizer
/// and model did to spaces and bytes (Ġ, ▁, ##, &lt;0xXX&gt;). The pieces are concatenated at the end.
/// </summary>
internal interface ITokenDecoder
{
    List<string> Decode(List<string> tokens);
}

/// <summary>Byte-level (GPT-2): table characters back to bytes, bytes to UTF-8 with replacement characters.</summary>
internal sealed class ByteLevelDecoder : ITokenDecoder
{
    public List<string> Decode(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            bool all = token.All(ByteLevelAlphabet.CharToByte.ContainsKey);
            if (all) foreach (char c in token) bytes.Add(ByteLevelAlphabet.CharToByte[c]);
            else bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return [Encoding.UTF8.GetString(bytes.ToArray())];
    }
}

/// <summary>WordPiece: continuation pieces ("##ing") glued to the previous one, other tokens separated by a space.</summary>
internal sealed class WordPieceDecoder(string prefix) : ITokenDecoder
{
    public List<string> Decode(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (i > 0 && t.StartsWith(prefix, StringComparison.Ordinal) && prefix.Length > 0) result.Add(t[prefix.Length..]);
            else result.Add(i > 0 ? " " + t : t);
        }
        return result;
    }
}

/// <summary>Metaspace (SentencePiece-style): "▁" back to spaces, the prepended one removed from the first token.</summary>
internal sealed class MetaspaceDecoder(char replacement, bool prepended) : ITokenDecoder
{
    public List<string> Decode(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i].Replace(replacement, ' ');
            if (i == 0 && prepended && t.StartsWith(' ')) t = t[1..];
            result.Add(t);
        }
        return result;
    }
}

/// <summary>BPEDecoder: the end-of-word suffix becomes a space (none after the last token).</summary>
internal sealed class BpeSuffixDecoder(string suffix) : ITokenDecoder
{
    public List<string> Decode(List<string> tokens) =>
        tokens.Select((t, i) => t.Replace(suffix, i == tokens.Count - 1 ? "" : " ", StringComparison.Ordinal)).ToList();
}

/// <summary>Replace decoder, with a literal string or a regex.</summary>
internal sealed class ReplaceDecoder(string? literal, Regex? regex, string content) : ITokenDecoder
{
    public List<string> Decode(List<string> tokens) => tokens.Select(t =>
        regex is not null ? regex.Replace(t, content.Replace("$", "$$")) :
        literal!.Length == 0 ? t : t.Replace(literal, content, StringComparison.Ordinal)).ToList();
}

/// <summary>ByteFallback: runs of &lt;0xXX&gt; tokens back to UTF-8 text; an invalid run becomes one U+FFFD per byte.</summary>
internal sealed class ByteFallbackDecoder : ITokenDecoder
{
    private static readonly UTF8Encoding Strict = new(false, true);

    public List<string> Decode(List<string> tokens)
    {
        var result = new List<string>();
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0) return;
            try { result.Add(Strict.GetString(pending.ToArray())); }
            catch (DecoderFallbackException) { result.AddRange(Enumerable.Repeat("\uFFFD", pending.Count)); }
            pending.Clear();
        }
        foreach (var t in tokens)
        {
            if (t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal) && t[5] == '>' &&
                byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            {
                pending.Add(b);
                continue;
            }
            Flush();
            result.Add(t);
        }
        Flush();
        return result;
    }
}

/// <summary>Fuse: all tokens into one string.</summary>
internal sealed class FuseDecoder : ITokenDecoder
{
    public List<string> Decode(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Strip: removes up to <c>start</c> leading and <c>stop</c> trailing occurrences of a character from each token.</summary>
internal sealed class StripDecoder(char content, int start, int stop) : ITokenDecoder
{
    public List<string> Decode(List<string> tokens) => tokens.Select(t =>
    {
        int a = 0, b = t.Length;
        while (a < b && a < start && t[a] == content) a++;
        while (b > a && t.Length - b < stop && t[b - 1] == content) b--;
        return t[a..b];
    }).ToList();
}

/// <summary>Sequence of decoders, each fed the previous one's pieces.</summary>
internal sealed class SequenceDecoder(IReadOnlyList<ITokenDecoder> steps) : ITokenDecoder
{
    public List<string> Decode(List<string> tokens)
    {
        foreach (var step in steps) tokens = step.Decode(tokens);
        return tokens;
    }
}

/// <summary>No decoder in tokenizer.json: tokenizers joins the tokens with spaces.</summary>
internal sealed class SpaceJoinDecoder : ITokenDecoder
{
    public List<string> Decode(List<string> tokens) => [string.Join(" ", tokens)];
}

/// <summary>transformers' clean_up_tokenization: removes the space the WordPiece decoder put before punctuation and contractions.</summary>
internal static class TokenizationCleanup
{
    public static string Apply(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
}
