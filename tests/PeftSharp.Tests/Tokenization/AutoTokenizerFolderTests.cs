using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

public class AutoTokenizerFolderTests
{
    private static readonly int[] Gpt2Hello = [15496];
    private static readonly int[] BertHello = [101, 7592, 102];

    private static void Copy(string from, string to, string name) => File.Copy(Path.Combine(from, name), Path.Combine(to, name));

    private const string UnigramTokenizerJson = """
        {"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,
         "model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0.0],["▁a",-1.0]]}}
        """;

    [Fact]
    public void TokenizerJsonComesFirst()
    {
        string dir = WriteFolder(("tokenizer.json", Gpt2TokenizerJson(Gpt2ByteLevelPreTokenizer(), mergesAsPairs: false)));
        Copy(MiniLmFolder, dir, "vocab.txt");
        Assert.Equal(Gpt2Hello, AutoTokenizer.FromFolder(dir).Encode("Hello"));
    }

    [Fact]
    public void VocabJsonAndMergesComeBeforeVocabTxt()
    {
        string dir = NewTempDir();
        Copy(Gpt2LegacyFolder, dir, "vocab.json");
        Copy(Gpt2LegacyFolder, dir, "merges.txt");
        Copy(MiniLmFolder, dir, "vocab.txt");
        Assert.Equal(Gpt2Hello, AutoTokenizer.FromFolder(dir).Encode("Hello"));
    }

    [Fact]
    public void VocabJsonWithoutMergesIsSkippedForVocabTxt()
    {
        string dir = NewTempDir();
        Copy(Gpt2LegacyFolder, dir, "vocab.json");
        Copy(MiniLmFolder, dir, "vocab.txt");
        Assert.Equal(BertHello, AutoTokenizer.FromFolder(dir).Encode("Hello"));
    }

    [Fact]
    public void UnsupportedTokenizerJsonFallsBackToTheNextFile()
    {
        string dir = WriteFolder(("tokenizer.json", UnigramTokenizerJson));
        Copy(MiniLmFolder, dir, "vocab.txt");
        Assert.Equal(BertHello, AutoTokenizer.FromFolder(dir).Encode("Hello"));
    }

    [Fact]
    public void UnsupportedTokenizerJsonAloneNamesTheModelType()
    {
        string dir = WriteFolder(("tokenizer.json", UnigramTokenizerJson));
        var e = Assert.ThrowsAny<PeftException>(() => AutoTokenizer.FromFolder(dir));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("'Unigram'", e.Message);
    }

    [Fact]
    public void EmptyFolderIsNamed()
    {
        string dir = NewTempDir();
        var e = Assert.ThrowsAny<PeftException>(() => AutoTokenizer.FromFolder(dir));
        Assert.Contains(dir, e.Message);
        Assert.Contains("no tokenizer files", e.Message);
    }

    [Fact]
    public void VocabJsonAloneSaysMergesAreMissing()
    {
        string dir = NewTempDir();
        Copy(Gpt2LegacyFolder, dir, "vocab.json");
        var e = Assert.ThrowsAny<PeftException>(() => AutoTokenizer.FromFolder(dir));
        Assert.Contains("merges.txt is missing", e.Message);
    }

    [Fact]
    public void MissingFolderIsNamed()
    {
        string dir = Path.Combine(Path.GetTempPath(), "no-such-peftsharp-folder");
        var e = Assert.ThrowsAny<PeftException>(() => AutoTokenizer.FromFolder(dir));
        Assert.Contains(dir, e.Message);
    }

    [Fact]
    public void GarbageSentencePieceModelIsNamed()
    {
        string dir = NewTempDir();
        File.WriteAllBytes(Path.Combine(dir, "tokenizer.model"), [0xFF, 0xFF, 0xFF, 0x01, 0x02]);
        var e = Assert.ThrowsAny<PeftException>(() => AutoTokenizer.FromFolder(dir));
        Assert.Contains("tokenizer.model", e.Message);
    }
}
