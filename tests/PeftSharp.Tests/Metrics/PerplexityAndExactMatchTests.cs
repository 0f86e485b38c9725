using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

public class PerplexityAndExactMatchTests
{
    [Fact]
    public void BatchLossesAreWeightedByTokenCount()
    {
        // (2.0 * 10 + 1.0 * 30) / 40 = 1.25, not the unweighted 1.5.
        Assert.Equal(Math.Exp(1.25), Perplexity.FromBatches([(2.0, 10), (1.0, 30)]), 12);
    }

    [Fact]
    public void SummedLossAndAccumulatorAgree()
    {
        var p = new Perplexity();
        p.AddSummed(20.0, 10);
        p.AddBatch(1.0, 30);
        p.AddBatch(double.NaN, 0); // a fully masked batch (NaN mean loss) contributes nothing
        Assert.Equal(40, p.Tokens);
        Assert.Equal(1.25, p.MeanLoss, 12);
        Assert.Equal(Perplexity.FromSummed(50.0, 40), p.Value, 12);
    }

    [Fact]
    public void PerplexityOfZeroLossIsOne() => Assert.Equal(1.0, Perplexity.FromSummed(0, 7));

    [Fact]
    public void NoTokensOrBadLossIsAnError()
    {
        Assert.Throws<PeftException>(() => Perplexity.FromSummed(1.0, 0));
        Assert.Throws<PeftException>(() => Perplexity.FromBatches([(double.NaN, 3)]));
        Assert.Throws<PeftException>(() => Perplexity.FromSummed(1.0, -1));
    }

    [Fact]
    public void ExactMatchIsStrictByDefault()
    {
        string[] predictions = ["a", "B", "c."];
        string[] references = ["a", "b", "c"];
        Assert.Equal(1.0 / 3, ExactMatch.Score(predictions, references), 12);
        Assert.Equal(2.0 / 3, ExactMatch.Score(predictions, references, ignoreCase: true), 12);
        Assert.Equal(1.0, ExactMatch.Score(predictions, references, ignoreCase: true, ignorePunctuation: true), 12);
    }

    [Fact]
    public void ExactMatchAcceptsAnyOfSeveralReferences() =>
        Assert.Equal(0.5, ExactMatch.Score(["yes", "no"], [(IReadOnlyList<string>)["no", "yes"], ["maybe"]]));

    [Fact]
    public void ExactMatchNeedsPairedInput() =>
        Assert.Throws<PeftException>(() => ExactMatch.Score(["a"], ["a", "b"]));
}
