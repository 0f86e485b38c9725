using System.Text;
using System.Text.RegularExpressions;

namespace PeftSharp.Tokenization;

/// <summary>
/// A normalizer step of Hugging Face's pipeline (tokenizer.json "normalizer"): text in, text out, before splitting.
/// Offsets are not tracked because nothing here needs them.
/// </summary>
internal interface ITextNormalizer
{
    string Normalize(string text);
}

/// <summary>tokenizer.json NFC / NFD / NFKC / NFKD.</summary>
internal sealed class UnicodeFormNormalizer(NormalizationForm form) : ITextNormalizer
{
    public string Normalize(string text) => text.Normalize(form);
}

/// <summary>tokenizer.json Lowercase (Rust's full per-character mapping).</summary>
internal sealed class LowercaseNormalizer : ITextNormalizer
{
    public string Normalize(string text) => BertTextNormalizer.RustLower(text);
}

/// <summary>tokenizer.json StripAccents.</summary>
internal sealed class StripAccentsNormalizer : ITextNormalizer
{
    public string Normalize(string text) => BertTextNormalizer.StripAccents(text);
}

/// <summary>tokenizer.json Strip: trims Unicode whitespace on the chosen sides.</summary>
internal sealed class StripNormalizer(bool left, bool right) : ITextNormalizer
{
    public string Normalize(string text) => left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text;
}

/// <summary>tokenizer.json Prepend (Llama 2 style "▁" before the text); empty text stays empty as in Rust.</summary>
internal sealed class PrependNormalizer(string prefix) : ITextNormalizer
{
    public string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

/// <summary>tokenizer.json Replace, with a literal string or a regex pattern.</summary>
internal sealed class ReplaceNormalizer : ITextNormalizer
{
    private readonly string? _literal;
    private readonly Regex? _regex;
    private readonly string _content;

    public ReplaceNormalizer(string? literal, Regex? regex, string content)
    {
        _literal = literal; _regex = regex; _content = content;
    }

    public string Normalize(string text) =>
        _regex is not null ? _regex.Replace(text, _content.Replace("$", "$$")) :
        _literal!.Length == 0 ? text : text.Replace(_literal, _content, StringComparison.Ordinal);
}

/// <summary>tokenizer.json Sequence of normalizers, applied in order.</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<ITextNormalizer> steps) : ITextNormalizer
{
    public string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}
