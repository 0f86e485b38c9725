using PeftSharp.Data;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using static PeftSharp.Data.TokenizedExample;

namespace PeftSharp.Tests.Data;

public class CollatorTests
{
    private static TokenizedExample Lm(int[] ids, int[]? labels = null) => new() { InputIds = ids, Labels = labels ?? ids, Source = "f", Line = 1 };

    [Fact]
    public void PadsRightWithMaskZeroAndIgnoredLabels()
    {
        var batch = new Collator(padTokenId: 0).Collate([Lm([5, 6, 7], [IgnoreIndex, 6, 7]), Lm([8])]);
        Assert.Equal((2, 3), (batch.Size, batch.SequenceLength));
        Assert.Equal([5, 6, 7, 8, 0, 0], batch.InputIds);
        Assert.Equal([1, 1, 1, 1, 0, 0], batch.AttentionMask);
        Assert.Equal([IgnoreIndex, 6, 7, 8, IgnoreIndex, IgnoreIndex], batch.Labels);
        Assert.Equal([2L, 3L], batch.LabelShape);
        Assert.Equal(4, batch.TokenCount);
        Assert.Equal(3, batch.LabelCount);
        Assert.Equal(["f:1", "f:1"], batch.Origins);
    }

    [Fact]
    public void PadsLeftWhenAsked()
    {
        var batch = new Collator(9, new CollatorOptions { PaddingSide = PaddingSide.Left }).Collate([Lm([5, 6]), Lm([8])]);
        Assert.Equal([5, 6, 9, 8], batch.InputIds);
        Assert.Equal([1, 1, 0, 1], batch.AttentionMask);
        Assert.Equal([5, 6, IgnoreIndex, 8], batch.Labels);
    }

    [Fact]
    public void PadsToAMultipleAndCapsTheLength()
    {
        var multiple = new Collator(0, new CollatorOptions { PadToMultipleOf = 8 }).Collate([Lm([1, 2, 3])]);
        Assert.Equal(8, multiple.SequenceLength);
        Assert.Equal(3, multiple.AttentionMask.Sum());

        var capped = new Collator(0, new CollatorOptions { MaxLength = 2 }).Collate([Lm([1, 2, 3], [IgnoreIndex, 2, 3]), Lm([4])]);
        Assert.Equal([1, 2, 4, 0], capped.InputIds);
        Assert.Equal([IgnoreIndex, 2, 4, IgnoreIndex], capped.Labels);
        Assert.Throws<PeftException>(() => new Collator(0, new CollatorOptions { PadToMultipleOf = 0 }));
    }

    [Fact]
    public void ClassificationLabelsAreOnePerRow()
    {
        var batch = new Collator(0).Collate([new TokenizedExample { InputIds = [101, 7, 102], ClassLabel = 1 }, new TokenizedExample { InputIds = [101, 102], ClassLabel = 0 }]);
        Assert.Equal(TaskKind.SequenceClassification, batch.Kind);
        Assert.Equal([1, 0], batch.Labels);
        Assert.Equal([2L], batch.LabelShape);
        Assert.Equal([101, 7, 102, 101, 102, 0], batch.InputIds);
    }

    [Fact]
    public void Seq2SeqTargetsArePaddedOnTheirOwnAndShiftedIntoDecoderInputs()
    {
        var collator = new Collator(0, new CollatorOptions { DecoderStartTokenId = 0 });
        var batch = collator.Collate([new TokenizedExample { InputIds = [4], TargetIds = [5, 6, 1] }, new TokenizedExample { InputIds = [4, 4], TargetIds = [7, 1] }]);
        Assert.Equal([4, 0, 4, 4], batch.InputIds);
        Assert.Equal([5, 6, 1, 7, 1, IgnoreIndex], batch.Labels);
        Assert.Equal([2L, 3L], batch.LabelShape);
        Assert.Equal([0, 5, 6, 0, 7, 1], batch.DecoderInputIds!);
    }

    [Fact]
    public void MixedKindsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new Collator(0).Collate([Lm([1]), new TokenizedExample { InputIds = [1], ClassLabel = 0 }]));
    }

    [Fact]
    public void ATokenizerWithoutAPadTokenPadsWithEos()
    {
        Assert.Equal(2, Collator.For(new WordTokenizer(hasPad: false)).PadTokenId);
        Assert.Equal(0, Collator.For(new WordTokenizer()).PadTokenId);
    }

    [Fact]
    public void TensorsAreMadeOnlyWhenAskedAndFreedTogether()
    {
        var batch = new Collator(0, new CollatorOptions { DecoderStartTokenId = 0 })
            .Collate([new TokenizedExample { InputIds = [4, 5], TargetIds = [5, 6, 1] }, new TokenizedExample { InputIds = [4], TargetIds = [7] }]);
        long before = LiveTensors.Count;
        using (var tensors = batch.ToTensors())
        {
            Assert.Equal([2L, 2L], tensors.Inputs.InputIds!.shape);
            Assert.Equal(TorchSharp.torch.ScalarType.Int64, tensors.Inputs.InputIds.dtype);
            Assert.Equal([2L, 3L], tensors.Labels.shape);
            Assert.Equal(batch.Labels, tensors.Labels.data<long>().ToArray());
            Assert.Equal(batch.AttentionMask, tensors.Inputs.AttentionMask!.data<long>().ToArray());
            Assert.Equal(batch.DecoderInputIds, tensors.Inputs.DecoderInputIds!.data<long>().ToArray());
        }
        Assert.Equal(before, LiveTensors.Count);
    }
}
