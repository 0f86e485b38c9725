using System.Text.Json.Nodes;
using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

public class SpecialTokenTests
{
    private static string MiniLmCopy(params (string Name, string Content)[] extra)
    {
        string dir = WriteFolder(extra);
        File.Copy(Path.Combine(MiniLmFolder, "vocab.txt"), Path.Combine(dir, "vocab.txt"));
        return dir;
    }

    [Fact]
    public void BertRolesComeFromVocabTxtDefaults()
    {
        var t = AutoTokenizer.FromFolder(MiniLmFolder);
        Assert.Equal((0, 100, 101, 102, 103), (t.PadTokenId, t.UnkTokenId, t.ClsTokenId, t.SepTokenId, t.MaskTokenId));
        Assert.Null(t.BosTokenId);
        Assert.Null(t.EosTokenId);
        Assert.Equal(30522, t.VocabSize);
        Assert.Equal(new[] { 0, 100, 101, 102, 103 }, t.SpecialTokenIds.Order());
        Assert.Equal(new[] { 101, 102 }, t.AddSpecialTokens([]));
    }

    [Fact]
    public void SpecialTokensInTextStayWholeAndAreNotLowerCased()
    {
        var t = AutoTokenizer.FromFolder(MiniLmFolder);
        Assert.Equal(new[] { 7592, 102, 103, 2088 }, t.Encode("hello [SEP][MASK] world", addSpecialTokens: false));
        Assert.Equal(new[] { 101, 7592, 102 }, t.Encode("hello"));
    }

    [Fact]
    public void Gpt2RolesAndEndOfTextInText()
    {
        var t = AutoTokenizer.FromFolder(Gpt2LegacyFolder);
        Assert.Equal((50256, 50256, 50256), (t.BosTokenId!.Value, t.EosTokenId!.Value, t.UnkTokenId!.Value));
        Assert.Null(t.PadTokenId);
        Assert.Equal(50257, t.VocabSize);
        Assert.Equal(new[] { 15496, 50256, 995 }, t.Encode("Hello<|endoftext|> world"));
        Assert.Equal(new[] { 15496 }, t.Encode("Hello")); // GPT-2 adds nothing
    }

    [Fact]
    public void SpecialTokensMapWinsOverTokenizerConfig()
    {
        string dir = MiniLmCopy(
            ("tokenizer_config.json", """{"pad_token": {"content": "[UNK]", "special": true}, "do_lower_case": true}"""),
            ("special_tokens_map.json", """{"pad_token": "[MASK]"}"""));
        Assert.Equal(103, AutoTokenizer.FromFolder(dir).PadTokenId);
    }

    [Fact]
    public void DoLowerCaseFalseKeepsCase()
    {
        string dir = MiniLmCopy(("tokenizer_config.json", """{"do_lower_case": false}"""));
        var cased = AutoTokenizer.FromFolder(dir);
        Assert.NotEqual(AutoTokenizer.FromFolder(MiniLmFolder).Encode("Hello"), cased.Encode("Hello"));
        Assert.Equal(new[] { 101, 7592, 102 }, cased.Encode("hello"));
    }

    [Fact]
    public void AddBosTokenInConfigPrefixesGpt2()
    {
        string dir = NewTempDir();
        foreach (var f in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(Gpt2LegacyFolder, f), Path.Combine(dir, f));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"add_bos_token": true, "pad_token": "<|endoftext|>"}""");
        var t = AutoTokenizer.FromFolder(dir);
        Assert.Equal(new[] { 50256, 15496 }, t.Encode("Hello"));
        Assert.Equal(50256, t.PadTokenId);
    }

    [Fact]
    public void TemplateProcessingAddsBosLikeLlama3()
    {
        var post = JsonNode.Parse("""
            {"type":"Sequence","processors":[
              {"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true},
              {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|endoftext|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
               "pair":[],"special_tokens":{"<|endoftext|>":{"id":"<|endoftext|>","ids":[50256],"tokens":["<|endoftext|>"]}}}]}
            """)!;
        string dir = WriteFolder(("tokenizer.json", Gpt2TokenizerJson(Gpt2ByteLevelPreTokenizer(), mergesAsPairs: true, post)),
            ("tokenizer_config.json", """{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}"""));
        var t = AutoTokenizer.FromFolder(dir);
        Assert.Equal(new[] { 50256, 15496, 995 }, t.Encode("Hello world"));
        Assert.Equal(new[] { 15496, 995 }, t.Encode("Hello world", addSpecialTokens: false));
        Assert.Equal(50256, t.BosTokenId);
        Assert.Equal("Hello world", t.Decode(t.Encode("Hello world")));
    }

    [Fact]
    public void Llama3PatternGroupsDigitsByThree()
    {
        var pre = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, ["behavior"] = "Isolated", ["invert"] = false },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
        };
        var t = AutoTokenizer.FromFolder(WriteFolder(("tokenizer.json", Gpt2TokenizerJson(pre, mergesAsPairs: true))));
        // GPT-2's own regex keeps "12345" together; Llama 3's cuts it into "123" and "45".
        var ids = t.Encode("12345");
        Assert.Equal(new[] { t.TokenToId("123")!.Value, t.TokenToId("45")!.Value }, ids);
    }
}
