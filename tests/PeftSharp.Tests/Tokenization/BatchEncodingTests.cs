using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

public class BatchEncodingTests
{
    private static readonly ITextTokenizer Bert = AutoTokenizer.FromFolder(MiniLmFolder);

    [Fact]
    public void PadsRightToTheLongestRowByDefault()
    {
        var batch = BatchEncoding.Create(Bert, ["hello", "hello world"]);
        Assert.Equal((2, 4), (batch.BatchSize, batch.SequenceLength));
        Assert.Equal(new[] { 101, 7592, 102, 0 }, batch[0].InputIds);
        Assert.Equal(new[] { 1, 1, 1, 0 }, batch[0].AttentionMask);
        Assert.Equal(new[] { 101, 7592, 2088, 102 }, batch[1].InputIds);
        Assert.Equal(new long[] { 101, 7592, 102, 0, 101, 7592, 2088, 102 }, batch.InputIdsFlat());
        Assert.Equal(new long[] { 1, 1, 1, 0, 1, 1, 1, 1 }, batch.AttentionMaskFlat());
    }

    [Fact]
    public void PadsLeftForGeneration()
    {
        var batch = BatchEncoding.Create(Bert, ["hello", "hello world"], new BatchEncodingOptions { PaddingSide = PaddingSide.Left });
        Assert.Equal(new[] { 0, 101, 7592, 102 }, batch[0].InputIds);
        Assert.Equal(new[] { 0, 1, 1, 1 }, batch[0].AttentionMask);
    }

    [Fact]
    public void TruncationKeepsTheSpecialTokens()
    {
        var full = Bert.Encode("a man is eating food.");
        var batch = BatchEncoding.Create(Bert, ["a man is eating food."], new BatchEncodingOptions { MaxLength = 4 });
        Assert.Equal(new[] { 101, full[1], full[2], 102 }, batch[0].InputIds);
        var left = BatchEncoding.Create(Bert, ["a man is eating food."], new BatchEncodingOptions { MaxLength = 4, TruncationSide = PaddingSide.Left });
        Assert.Equal(new[] { 101, full[^3], full[^2], 102 }, left[0].InputIds);
    }

    [Fact]
    public void PadsToMaxLengthAndMultiples()
    {
        var fixedLength = BatchEncoding.Create(Bert, ["hello"], new BatchEncodingOptions { MaxLength = 6, PadToMaxLength = true });
        Assert.Equal(new[] { 101, 7592, 102, 0, 0, 0 }, fixedLength[0].InputIds);
        var multiple = BatchEncoding.Create(Bert, ["hello"], new BatchEncodingOptions { PadToMultipleOf = 8 });
        Assert.Equal(8, multiple.SequenceLength);
        Assert.Equal(3, multiple[0].AttentionMask.Sum());
    }

    [Fact]
    public void Gpt2NeedsAPadIdOnlyWhenPadding()
    {
        var gpt2 = AutoTokenizer.FromFolder(Gpt2LegacyFolder);
        Assert.Equal(1, BatchEncoding.Create(gpt2, ["Hello"]).SequenceLength);
        var e = Assert.ThrowsAny<PeftException>(() => BatchEncoding.Create(gpt2, ["Hello", "Hello world"]));
        Assert.Contains("pad token", e.Message);
        var batch = BatchEncoding.Create(gpt2, ["Hello", "Hello world"], new BatchEncodingOptions { PadTokenId = gpt2.EosTokenId, PaddingSide = PaddingSide.Left });
        Assert.Equal(new[] { 50256, 15496 }, batch[0].InputIds);
        Assert.Equal(new[] { 0, 1 }, batch[0].AttentionMask);
    }

    [Fact]
    public void FromIdsPadsAndTruncatesReadyIds()
    {
        var batch = BatchEncoding.FromIds([[5, 6, 7, 8], [9]], padTokenId: 0, new BatchEncodingOptions { MaxLength = 3 });
        Assert.Equal(new[] { 5, 6, 7 }, batch[0].InputIds);
        Assert.Equal(new[] { 9, 0, 0 }, batch[1].InputIds);
        Assert.Equal(new[] { 1, 0, 0 }, batch[1].AttentionMask);
    }

    [Fact]
    public void MaxLengthBelowTheSpecialTokensIsRefused()
    {
        var e = Assert.ThrowsAny<PeftException>(() => BatchEncoding.Create(Bert, ["hello"], new BatchEncodingOptions { MaxLength = 1 }));
        Assert.Contains("special tokens", e.Message);
    }
}
