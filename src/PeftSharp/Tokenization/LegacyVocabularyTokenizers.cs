using System.Text;
using System.Text.RegularExpressions;

namespace PeftSharp.Tokenization;

/// <summary>
/// Tokenizers from the files that predate tokenizer.json, built to behave as transformers' Python ("slow") classes
/// do for them: vocab.txt is BertTokenizer; vocab.json + merges.txt is GPT2Tokenizer (or RobertaTokenizer /
/// Qwen2Tokenizer when tokenizer_config.json names that class).
/// </summary>
internal static class LegacyVocabularyTokenizers
{
    private static readonly Dictionary<string, string?> BertDefaults = new()
    {
        ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]",
    };

    public static ITextTokenizer Bert(string dir, TokenizerConfig config)
    {
        string vocabFile = Path.Combine(dir, "vocab.txt");
        var vocab = WordPieceModel.ReadVocabTxt(vocabFile);
        var roles = AddedVocabularyBuilder.Roles(config, BertDefaults);
        string unk = roles["unk_token"] ?? throw new PeftException($"{dir}: BERT needs an unk_token, but the configuration sets it to null.");
        var model = new WordPieceModel(vocab, unk, "##", 100, vocabFile);
        var added = AddedVocabularyBuilder.Build(dir, config, [], roles, model.TokenToId);

        bool lower = config.DoLowerCase ?? true;
        var normalizer = new BertTextNormalizer(cleanText: true, config.TokenizeChineseChars ?? true, config.StripAccents, lower, pythonOrder: true);
        IPostProcessor? post = null;
        if (Lookup(roles, "cls_token", added, model) is { } cls && Lookup(roles, "sep_token", added, model) is { } sep)
            post = new TemplatePostProcessor([cls], [sep]);
        return new PipelineTokenizer(model, added, normalizer, new BertPreTokenizer(), post, new WordPieceDecoder("##"),
            config.CleanUpTokenizationSpaces ?? true, roles, config.AdditionalSpecial);
    }

    public static ITextTokenizer ByteLevelBpe(string dir, TokenizerConfig config)
    {
        string vocabFile = Path.Combine(dir, "vocab.json"), mergesFile = Path.Combine(dir, "merges.txt");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in JsonNode.Load(vocabFile).Properties()) vocab[token] = id.AsInt();
        var merges = ReadMergesTxt(mergesFile);

        string cls = config.BaseClass;
        bool roberta = cls is "RobertaTokenizer" or "BartTokenizer" or "LongformerTokenizer";
        bool qwen = cls is "Qwen2Tokenizer";
        Dictionary<string, string?> defaults = roberta
            ? new() { ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["sep_token"] = "</s>", ["cls_token"] = "<s>", ["unk_token"] = "<unk>", ["pad_token"] = "<pad>", ["mask_token"] = "<mask>" }
            : qwen
                ? new() { ["unk_token"] = "<|endoftext|>", ["eos_token"] = "<|endoftext|>", ["pad_token"] = "<|endoftext|>" }
                : new() { ["unk_token"] = "<|endoftext|>", ["bos_token"] = "<|endoftext|>", ["eos_token"] = "<|endoftext|>" };
        var roles = AddedVocabularyBuilder.Roles(config, defaults);

        var model = new BpeModel(vocab, merges, new BpeSettings(ByteLevel: true), mergesFile);
        var added = AddedVocabularyBuilder.Build(dir, config, [], roles, model.TokenToId);

        ITextNormalizer? normalizer = qwen ? new UnicodeFormNormalizer(NormalizationForm.FormC) : null;
        IPreTokenizer pre = qwen
            ? new RegexSplitPreTokenizer(new Regex(ByteLevelPreTokenizer.Qwen2Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled), SplitBehavior.Isolated, invert: false)
            : new ByteLevelPreTokenizer(config.AddPrefixSpace ?? false, useRegex: true);

        IPostProcessor? post = null;
        if (roberta && Lookup(roles, "cls_token", added, model) is { } c && Lookup(roles, "sep_token", added, model) is { } s)
            post = new TemplatePostProcessor([c], [s]);
        else if (!roberta)
        {
            var before = config.AddBosToken == true && Lookup(roles, "bos_token", added, model) is { } b ? new[] { b } : [];
            var after = config.AddEosToken == true && Lookup(roles, "eos_token", added, model) is { } e ? new[] { e } : [];
            if (before.Length + after.Length > 0) post = new TemplatePostProcessor(before, after);
        }
        return new PipelineTokenizer(model, added, normalizer, pre, post, new ByteLevelDecoder(),
            config.CleanUpTokenizationSpaces ?? false, roles, config.AdditionalSpecial);
    }

    /// <summary>merges.txt: one "left right" pair a line, in priority order; "#version" lines and blank lines skipped.</summary>
    public static List<(string, string)> ReadMergesTxt(string path)
    {
        var merges = new List<(string, string)>();
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (raw.StartsWith("#version", StringComparison.Ordinal) || raw.Length == 0) continue;
            var parts = raw.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new PeftException($"{path}: line {lineNumber} should be two tokens separated by one space but is \"{raw}\".");
            merges.Add((parts[0], parts[1]));
        }
        return merges;
    }

    private static int? Lookup(IReadOnlyDictionary<string, string?> roles, string role, AddedVocabulary added, ITokenModel model) =>
        roles.TryGetValue(role, out var content) && content is not null ? added.ByContent(content)?.Id ?? model.TokenToId(content) : null;
}
