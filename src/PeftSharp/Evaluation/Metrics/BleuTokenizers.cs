namespace PeftSharp.Evaluation.Metrics;

/// <summary>Looks BLEU tokenizers up by the names sacreBLEU uses on its command line.</summary>
public static class BleuTokenizers
{
    public static IReadOnlyList<string> Names { get; } = ["13a", "intl", "char", "none"];

    public static IBleuTokenizer Get(string name) => name switch
    {
        "13a" => new Tokenizer13a(),
        "intl" => new TokenizerIntl(),
        "char" => new TokenizerChar(),
        "none" => new TokenizerNone(),
        _ => throw new PeftException($"unknown BLEU tokenizer '{name}'; use one of {string.Join(", ", Names)}"),
    };
}
