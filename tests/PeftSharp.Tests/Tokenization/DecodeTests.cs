using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

public class DecodeTests
{
    [Fact]
    public void Gpt2DecodesEveryReferenceIdListBackToItsText()
    {
        var tokenizer = AutoTokenizer.FromFolder(Gpt2LegacyFolder);
        foreach (var (text, ids) in ReferenceIds("gpt2_ids.jsonl"))
        {
            Assert.Equal(text, tokenizer.Decode(ids));
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Theory]
    [InlineData("A man is eating food.", "a man is eating food.")]
    [InlineData("don't won't can't", "don't won't can't")]
    [InlineData("Héllo wörld! It costs $5+tax, naïve café.", "hello world! it costs $ 5 + tax, naive cafe.")]
    [InlineData("Tabs\tand\nnewlines", "tabs and newlines")]
    public void BertDecodesAsTransformersWithCleanup(string text, string expected)
    {
        var tokenizer = AutoTokenizer.FromFolder(MiniLmFolder);
        Assert.Equal(expected, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void SpecialTokensAreKeptOnlyWhenAsked()
    {
        var tokenizer = AutoTokenizer.FromFolder(MiniLmFolder);
        var ids = tokenizer.Encode("A man is eating food.");
        Assert.Equal("a man is eating food.", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("[CLS] a man is eating food. [SEP]", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void UnknownIdsAreSkipped()
    {
        var tokenizer = AutoTokenizer.FromFolder(Gpt2LegacyFolder);
        Assert.Equal("Hello", tokenizer.Decode([15496, 999_999, -1]));
    }

    [Fact]
    public void TokenStringsAreTheVocabularySpelling()
    {
        var gpt2 = AutoTokenizer.FromFolder(Gpt2LegacyFolder);
        Assert.Equal("Ġworld", gpt2.IdToToken(995));
        Assert.Equal(995, gpt2.TokenToId("Ġworld"));
        Assert.Null(gpt2.IdToToken(50257));
        var bert = AutoTokenizer.FromFolder(MiniLmFolder);
        Assert.Equal("##s", bert.IdToToken(2015));
        Assert.Null(bert.TokenToId("definitely-not-a-token"));
    }
}
