using System.Text.Json.Nodes;
using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

/// <summary>Broken or unsupported files give a PeftException naming the file and the field.</summary>
public class MalformedFileTests
{
    private static PeftException Fails(params (string Name, string Content)[] files) =>
        Assert.ThrowsAny<PeftException>(() => AutoTokenizer.FromFolder(WriteFolder(files)));

    private static string BertJsonWith(Action<JsonObject> change)
    {
        var root = JsonNode.Parse(BertTokenizerJson(BertProcessing()))!.AsObject();
        change(root);
        return root.ToJsonString();
    }

    [Fact]
    public void InvalidJsonNamesTheFile()
    {
        var e = Fails(("tokenizer.json", "{\"model\": {"));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void WrongTypeNamesTheField()
    {
        var e = Fails(("tokenizer.json", BertJsonWith(r => r["model"]!["vocab"] = new JsonArray(1, 2))));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("'model.vocab'", e.Message);
        Assert.Contains("should be an object", e.Message);
    }

    [Fact]
    public void MissingModelIsNamed()
    {
        var e = Fails(("tokenizer.json", BertJsonWith(r => r.Remove("model"))));
        Assert.Contains("has no 'model'", e.Message);
    }

    [Theory]
    [InlineData("normalizer", "Precompiled")]
    [InlineData("pre_tokenizer", "UnicodeScripts")]
    [InlineData("post_processor", "SomethingNew")]
    [InlineData("decoder", "CTC")]
    public void UnsupportedComponentIsNamed(string field, string type)
    {
        var e = Fails(("tokenizer.json", BertJsonWith(r => r[field] = new JsonObject { ["type"] = type })));
        Assert.Contains($"{field} type '{type}'", e.Message);
        Assert.Contains("tokenizer.json", e.Message);
    }

    [Fact]
    public void BadRegexIsNamedWithItsField()
    {
        var pre = new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "(unclosed" }, ["behavior"] = "Isolated" };
        var e = Fails(("tokenizer.json", BertJsonWith(r => r["pre_tokenizer"] = pre)));
        Assert.Contains("'pre_tokenizer.pattern.Regex'", e.Message);
    }

    [Fact]
    public void BadAddedTokenIdIsNamed()
    {
        var e = Fails(("tokenizer.json", BertJsonWith(r => r["added_tokens"]![0]!["id"] = "zero")));
        Assert.Contains("'added_tokens[0].id'", e.Message);
        Assert.Contains("whole number", e.Message);
    }

    [Fact]
    public void BadTokenizerConfigFieldIsNamed()
    {
        var e = Fails(("tokenizer_config.json", """{"bos_token": 5}"""), ("vocab.txt", "[UNK]\nhello\n"));
        Assert.Contains("tokenizer_config.json", e.Message);
        Assert.Contains("'bos_token'", e.Message);
    }

    [Fact]
    public void BadMergesLineIsNamed()
    {
        var e = Fails(("vocab.json", """{"a": 0, "b": 1, "ab": 2}"""), ("merges.txt", "#version: 0.2\na b\nab\n"));
        Assert.Contains("merges.txt", e.Message);
        Assert.Contains("line 3", e.Message);
    }

    [Fact]
    public void MergeOutsideTheVocabularyIsNamed()
    {
        var e = Fails(("vocab.json", """{"a": 0, "b": 1}"""), ("merges.txt", "a b\n"));
        Assert.Contains("merges.txt", e.Message);
        Assert.Contains("merge 0", e.Message);
    }

    [Fact]
    public void UnknownTokenMissingFromVocabTxtIsNamed()
    {
        var e = Fails(("vocab.txt", "hello\nworld\n"));
        Assert.Contains("vocab.txt", e.Message);
        Assert.Contains("[UNK]", e.Message);
    }
}
