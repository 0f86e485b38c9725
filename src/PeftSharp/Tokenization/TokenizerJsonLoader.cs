using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PeftSharp.Tokenization;

/// <summary>
/// Builds the pipeline described by a Hugging Face tokenizer.json. Every component type we do not implement is
/// refused by name, so a new model family fails loudly instead of giving different ids.
/// </summary>
internal static class TokenizerJsonLoader
{
    public static ITextTokenizer Load(string file, string dir, TokenizerConfig config)
    {
        var root = JsonNode.Load(file);
        if (root.Kind != JsonValueKind.Object) throw root.Error("should be an object");

        var addedFromJson = new List<AddedToken>();
        if (root.Get("added_tokens") is { } addedNode)
            foreach (var t in addedNode.Items())
                addedFromJson.Add(new AddedToken(t.Require("id").AsInt(), t.RequireString("content"), t.GetBool("special") ?? false,
                    t.GetBool("lstrip") ?? false, t.GetBool("rstrip") ?? false, t.GetBool("single_word") ?? false));

        var modelNode = root.Require("model");
        // The ByteLevel pre-tokenizer is what turns text into GPT-2's byte alphabet; here the BPE model does that part.
        bool byteLevel = root.Get("pre_tokenizer") is { } preNode && ContainsByteLevel(preNode);
        var (model, unkToken) = LoadModel(modelNode, byteLevel);
        var normalizer = root.Get("normalizer") is { } n ? LoadNormalizer(n) : null;
        var preTokenizer = root.Get("pre_tokenizer") is { } p ? LoadPreTokenizer(p) : null;

        var defaults = new Dictionary<string, string?>();
        if (unkToken is not null) defaults["unk_token"] = unkToken;
        var postNode = root.Get("post_processor");
        if (postNode is { } pn && TypeOf(pn) is "BertProcessing" or "RobertaProcessing")
        {
            defaults["cls_token"] = pn.Require("cls").Items().First().AsString();
            defaults["sep_token"] = pn.Require("sep").Items().First().AsString();
        }
        var roles = AddedVocabularyBuilder.Roles(config, defaults);
        var added = AddedVocabularyBuilder.Build(dir, config, addedFromJson, roles, model.TokenToId);
        var post = postNode is { } post0 ? LoadPostProcessor(post0, added, model) : null;

        var decoderNode = root.Get("decoder");
        ITokenDecoder decoder = decoderNode is { } d ? LoadDecoder(d) : new SpaceJoinDecoder();
        bool cleanUp = config.CleanUpTokenizationSpaces
            ?? (decoderNode is { } dn && TypeOf(dn) == "WordPiece" && (dn.GetBool("cleanup") ?? true));
        return new PipelineTokenizer(model, added, normalizer, preTokenizer, post, decoder, cleanUp, roles, config.AdditionalSpecial);
    }

    private static string TypeOf(JsonNode node) => node.Get("type")?.AsString() ?? "";

    private static bool ContainsByteLevel(JsonNode node) =>
        TypeOf(node) == "ByteLevel" || TypeOf(node) == "Sequence" && node.Get("pretokenizers") is { } steps && steps.Items().Any(ContainsByteLevel);

    private static (ITokenModel Model, string? Unk) LoadModel(JsonNode node, bool byteLevel)
    {
        string type = TypeOf(node);
        if (type.Length == 0) // files written by old tokenizers versions leave the model type out
            type = node.Get("merges") is not null ? "BPE" : node.Get("max_input_chars_per_word") is not null ? "WordPiece" : "";
        switch (type)
        {
            case "BPE":
            {
                var vocab = ReadVocabObject(node.Require("vocab"));
                var merges = new List<(string, string)>();
                foreach (var m in node.Require("merges").Items())
                {
                    if (m.Kind == JsonValueKind.String)
                    {
                        var parts = m.AsString().Split(' ');
                        if (parts.Length != 2) throw m.Error("should be two tokens separated by one space");
                        merges.Add((parts[0], parts[1]));
                    }
                    else
                    {
                        var pair = m.Items().Select(x => x.AsString()).ToArray();
                        if (pair.Length != 2) throw m.Error("should be a pair of tokens");
                        merges.Add((pair[0], pair[1]));
                    }
                }
                if (node.Get("dropout") is { } dropout && dropout.AsDouble() > 0)
                    throw new UnsupportedTokenizerException($"{node.File}: field '{dropout.Path}' is {dropout.AsDouble()}; BPE dropout (random merges) is not supported for inference or training data.");
                string? unk = node.GetString("unk_token");
                var settings = new BpeSettings(byteLevel, unk, node.GetBool("fuse_unk") ?? false, node.GetBool("byte_fallback") ?? false,
                    node.GetBool("ignore_merges") ?? false, node.GetString("continuing_subword_prefix"), node.GetString("end_of_word_suffix"));
                return (new BpeModel(vocab, merges, settings, $"{node.File} ({node.Path})"), unk);
            }
            case "WordPiece":
            {
                if (byteLevel) throw new UnsupportedTokenizerException($"{node.File}: a WordPiece model behind a ByteLevel pre-tokenizer is not supported.");
                var vocab = ReadVocabObject(node.Require("vocab"));
                string unk = node.GetString("unk_token") ?? "[UNK]";
                var model = new WordPieceModel(vocab, unk, node.GetString("continuing_subword_prefix") ?? "##",
                    node.GetInt("max_input_chars_per_word") ?? 100, $"{node.File} ({node.Path})");
                return (model, unk);
            }
            default:
                throw new UnsupportedTokenizerException(
                    $"{node.File}: model type '{(type.Length == 0 ? "(missing)" : type)}' at field '{node.Path}.type' is not supported (supported: BPE, WordPiece).");
        }
    }

    private static Dictionary<string, int> ReadVocabObject(JsonNode node)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in node.Properties()) vocab[token] = id.AsInt();
        if (vocab.Count == 0) throw node.Error("is empty");
        return vocab;
    }

    private static ITextNormalizer LoadNormalizer(JsonNode node)
    {
        string type = TypeOf(node);
        switch (type)
        {
            case "BertNormalizer":
                return new BertTextNormalizer(node.GetBool("clean_text") ?? true, node.GetBool("handle_chinese_chars") ?? true,
                    node.GetBool("strip_accents"), node.GetBool("lowercase") ?? true, pythonOrder: false);
            case "NFC": return new UnicodeFormNormalizer(NormalizationForm.FormC);
            case "NFD": return new UnicodeFormNormalizer(NormalizationForm.FormD);
            case "NFKC": return new UnicodeFormNormalizer(NormalizationForm.FormKC);
            case "NFKD": return new UnicodeFormNormalizer(NormalizationForm.FormKD);
            case "Lowercase": return new LowercaseNormalizer();
            case "StripAccents": return new StripAccentsNormalizer();
            case "Strip": return new StripNormalizer(node.GetBool("strip_left") ?? true, node.GetBool("strip_right") ?? true);
            case "Prepend": return new PrependNormalizer(node.RequireString("prepend"));
            case "Replace":
            {
                var (literal, regex) = Pattern(node.Require("pattern"));
                return new ReplaceNormalizer(literal, regex, node.RequireString("content"));
            }
            case "Sequence":
                return new SequenceNormalizer(node.Require("normalizers").Items().Select(LoadNormalizer).ToList());
            default:
                throw new UnsupportedTokenizerException($"{node.File}: normalizer type '{type}' at field '{node.Path}' is not supported " +
                    "(supported: BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Prepend, Replace, Sequence).");
        }
    }

    private static IPreTokenizer LoadPreTokenizer(JsonNode node)
    {
        string type = TypeOf(node);
        switch (type)
        {
            case "BertPreTokenizer": return new BertPreTokenizer();
            case "ByteLevel": return new ByteLevelPreTokenizer(node.GetBool("add_prefix_space") ?? true, node.GetBool("use_regex") ?? true);
            case "Whitespace": return new WhitespacePreTokenizer();
            case "WhitespaceSplit": return new WhitespaceSplitPreTokenizer();
            case "Digits": return new DigitsPreTokenizer(node.GetBool("individual_digits") ?? false);
            case "Punctuation": return new PunctuationPreTokenizer(Behavior(node, SplitBehavior.Isolated));
            case "CharDelimiterSplit":
            {
                string delimiter = node.RequireString("delimiter");
                return new RegexSplitPreTokenizer(new Regex(Regex.Escape(delimiter), RegexOptions.CultureInvariant), SplitBehavior.Removed, invert: false);
            }
            case "Split":
            {
                var (literal, regex) = Pattern(node.Require("pattern"));
                regex ??= new Regex(Regex.Escape(literal!), RegexOptions.CultureInvariant);
                return new RegexSplitPreTokenizer(regex, Behavior(node, null), node.GetBool("invert") ?? false);
            }
            case "Metaspace":
                return new MetaspacePreTokenizer(Replacement(node), Scheme(node), node.GetBool("split") ?? true);
            case "Sequence":
                return new SequencePreTokenizer(node.Require("pretokenizers").Items().Select(LoadPreTokenizer).ToList());
            default:
                throw new UnsupportedTokenizerException($"{node.File}: pre_tokenizer type '{type}' at field '{node.Path}' is not supported " +
                    "(supported: BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Digits, Punctuation, CharDelimiterSplit, Split, Metaspace, Sequence).");
        }
    }

    private static IPostProcessor? LoadPostProcessor(JsonNode node, AddedVocabulary added, ITokenModel model)
    {
        string type = TypeOf(node);
        switch (type)
        {
            case "ByteLevel": return null; // only adjusts offsets
            case "BertProcessing":
            case "RobertaProcessing":
                return new TemplatePostProcessor([TokenIdPair(node.Require("cls"))], [TokenIdPair(node.Require("sep"))]);
            case "TemplateProcessing":
            {
                var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (node.Get("special_tokens") is { } st)
                    foreach (var (name, value) in st.Properties())
                        specials[name] = value.Require("ids").Items().Select(i => i.AsInt()).ToArray();
                var single = node.Require("single");
                var items = single.Kind == JsonValueKind.String
                    ? single.AsString().Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => (Piece: s.Split(':')[0], Node: single)).ToList()
                    : single.Items().Select(i => (Piece: TemplatePiece(i), Node: i)).ToList();
                var before = new List<int>();
                var after = new List<int>();
                bool seenSequence = false;
                foreach (var (piece, itemNode) in items)
                {
                    if (piece is "$A" or "$" or "$0" or "$B" or "$1") { seenSequence = true; continue; }
                    int[] ids = specials.TryGetValue(piece, out var known) ? known
                        : (added.ByContent(piece)?.Id ?? model.TokenToId(piece)) is { } single0 ? [single0]
                        : throw itemNode.Error($"names the special token '{piece}', which is neither in special_tokens nor in the vocabulary");
                    (seenSequence ? after : before).AddRange(ids);
                }
                return new TemplatePostProcessor(before, after);
            }
            case "Sequence":
            {
                var steps = node.Require("processors").Items().Select(p => LoadPostProcessor(p, added, model)).OfType<IPostProcessor>().ToList();
                return steps.Count == 0 ? null : new SequencePostProcessor(steps);
            }
            default:
                throw new UnsupportedTokenizerException($"{node.File}: post_processor type '{type}' at field '{node.Path}' is not supported " +
                    "(supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence).");
        }
    }

    /// <summary>A template item: {"SpecialToken": {"id": "[CLS]"}} or {"Sequence": {"id": "A"}} (the latter becomes "$A").</summary>
    private static string TemplatePiece(JsonNode item)
    {
        if (item.Get("SpecialToken") is { } s) return s.RequireString("id");
        if (item.Get("Sequence") is { } q) return "$" + q.RequireString("id");
        throw item.Error("should hold a SpecialToken or a Sequence");
    }

    /// <summary>BertProcessing's ["[CLS]", 101] pairs.</summary>
    private static int TokenIdPair(JsonNode node)
    {
        var items = node.Items().ToArray();
        if (items.Length != 2) throw node.Error("should be a [token, id] pair");
        return items[1].AsInt();
    }

    private static ITokenDecoder LoadDecoder(JsonNode node)
    {
        string type = TypeOf(node);
        switch (type)
        {
            case "ByteLevel": return new ByteLevelDecoder();
            case "WordPiece": return new WordPieceDecoder(node.GetString("prefix") ?? "##");
            case "Metaspace": return new MetaspaceDecoder(Replacement(node), Scheme(node) != PrependScheme.Never);
            case "BPEDecoder": return new BpeSuffixDecoder(node.GetString("suffix") ?? "</w>");
            case "ByteFallback": return new ByteFallbackDecoder();
            case "Fuse": return new FuseDecoder();
            case "Strip":
            {
                string content = node.RequireString("content");
                if (content.Length != 1) throw node.Require("content").Error("should be a single character");
                return new StripDecoder(content[0], node.GetInt("start") ?? 0, node.GetInt("stop") ?? 0);
            }
            case "Replace":
            {
                var (literal, regex) = Pattern(node.Require("pattern"));
                return new ReplaceDecoder(literal, regex, node.RequireString("content"));
            }
            case "Sequence":
                return new SequenceDecoder(node.Require("decoders").Items().Select(LoadDecoder).ToList());
            default:
                throw new UnsupportedTokenizerException($"{node.File}: decoder type '{type}' at field '{node.Path}' is not supported " +
                    "(supported: ByteLevel, WordPiece, Metaspace, BPEDecoder, ByteFallback, Fuse, Strip, Replace, Sequence).");
        }
    }

    /// <summary>{"String": "..."} or {"Regex": "..."} as in Split and Replace.</summary>
    private static (string? Literal, Regex? Regex) Pattern(JsonNode node)
    {
        if (node.Get("String") is { } s) return (s.AsString(), null);
        if (node.Get("Regex") is { } r)
        {
            try { return (null, new Regex(r.AsString(), RegexOptions.CultureInvariant | RegexOptions.Compiled)); }
            catch (ArgumentException e) { throw r.Error($"is a regular expression .NET cannot compile: {e.Message}"); }
        }
        throw node.Error("should hold a String or a Regex");
    }

    private static SplitBehavior Behavior(JsonNode node, SplitBehavior? fallback)
    {
        var b = node.Get("behavior");
        if (b is null) return fallback ?? throw node.Error("has no 'behavior'");
        return b.Value.AsString() switch
        {
            "Removed" => SplitBehavior.Removed,
            "Isolated" => SplitBehavior.Isolated,
            "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitBehavior.MergedWithNext,
            "Contiguous" => SplitBehavior.Contiguous,
            var other => throw b.Value.Error($"names an unknown split behavior '{other}'"),
        };
    }

    private static char Replacement(JsonNode node)
    {
        string r = node.GetString("replacement") ?? "▁";
        if (r.Length != 1) throw node.Require("replacement").Error("should be a single character");
        return r[0];
    }

    /// <summary>prepend_scheme, or the older add_prefix_space flag it replaced.</summary>
    private static PrependScheme Scheme(JsonNode node)
    {
        if (node.Get("prepend_scheme") is { } s)
            return s.AsString() switch
            {
                "always" => PrependScheme.Always,
                "first" => PrependScheme.First,
                "never" => PrependScheme.Never,
                var other => throw s.Error($"names an unknown prepend scheme '{other}'"),
            };
        return node.GetBool("add_prefix_space") ?? true ? PrependScheme.Always : PrependScheme.Never;
    }
}
