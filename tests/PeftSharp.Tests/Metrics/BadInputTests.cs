using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>Input mistakes give a clear PeftException; empty segments score as the reference implementations do.</summary>
public class BadInputTests
{
    private static readonly IReadOnlyList<string>[] OneRef = [["the cat"]];

    [Fact]
    public void CountMismatchIsAUserError()
    {
        var e = Assert.Throws<PeftException>(() => new Bleu().CorpusScore(["a", "b"], OneRef));
        Assert.Contains("2 hypotheses but 1 reference", e.Message);
        Assert.Throws<PeftException>(() => new ChrF().CorpusScore(["a", "b"], OneRef));
        Assert.Throws<PeftException>(() => new Rouge().CorpusScore(["a", "b"], OneRef));
    }

    [Fact]
    public void NoHypothesesOrNoReferenceIsAUserError()
    {
        Assert.Throws<PeftException>(() => new Bleu().CorpusScore([], []));
        Assert.Throws<PeftException>(() => new ChrF().CorpusScore(["a"], [Array.Empty<string>()]));
        Assert.Throws<PeftException>(() => new Rouge().Score("a", Array.Empty<string>()));
    }

    [Fact]
    public void StreamsOfDifferentLengthAreAUserError() =>
        Assert.Throws<PeftException>(() => MetricInputs.FromStreams([["a", "b"], ["a"]]));

    [Fact]
    public void UnknownOptionsAreUserErrors()
    {
        Assert.Throws<PeftException>(() => BleuSmoothings.Parse("laplace"));
        Assert.Throws<PeftException>(() => new Rouge(["rouge0"]));
        Assert.Throws<PeftException>(() => new Rouge(["rougeW"]));
    }

    [Fact]
    public void EmptyHypothesisScoresZero()
    {
        var bleu = Bleu.Sentence("", ["the cat sat"]);
        Assert.Equal((0.0, 0, 3), (bleu.Score, bleu.SysLen, bleu.RefLen));
        Assert.Equal(0.0, bleu.BrevityPenalty);
        Assert.Equal(0.0, new ChrF().SentenceScore("", ["the cat sat"]).Score);
        Assert.All(new Rouge().Score("", "the cat sat").Values, s => Assert.Equal(RougeScore.Zero, s));
    }

    [Fact]
    public void EmptyReferenceScoresZero()
    {
        Assert.Equal(0.0, Bleu.Sentence("the cat sat", [""]).Score);
        Assert.Equal(0.0, new ChrF().SentenceScore("the cat sat", [""]).Score);
        Assert.All(new Rouge().Score("the cat sat", "").Values, s => Assert.Equal(RougeScore.Zero, s));
    }

    [Fact]
    public void SignatureShowsCustomSmoothingAndVariableReferenceCounts()
    {
        var bleu = new Bleu(new BleuOptions { Smoothing = BleuSmoothing.Floor, SmoothValue = 0.375, Lowercase = true });
        Assert.StartsWith("nrefs:var|case:lc|eff:no|tok:13a|smooth:floor[0.38]|version:peftsharp-",
            bleu.Signature([["a"], ["b", "c"]]));
    }
}
