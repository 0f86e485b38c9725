using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>The Python string and float behaviours the reference metrics rely on.</summary>
public class PyTextTests
{
    [Fact]
    public void LowerFollowsPythonIncludingFinalSigmaAndDottedI() =>
        Assert.Equal("οδος σοφιας σ. i\u0307stanbul k", PyText.Lower("ΟΔΟΣ ΣΟΦΙΑΣ Σ. İstanbul \u212A"));

    [Fact]
    public void SplitUsesPythonWhitespace() =>
        Assert.Equal(["a", "b", "c", "d", "e"], PyText.Split("\u2028a\u001cb\u3000c\u00a0d\u0085e "));

    [Fact]
    public void ZeroWidthSpaceIsNotWhitespaceInPython() => Assert.Single(PyText.Split("a\u200Bb"));

    [Fact]
    public void CodePointsKeepSurrogatePairsTogether() => Assert.Equal(["a", "😀", "b"], PyText.CodePoints("a😀b"));

    [Theory]
    [InlineData(0.125, 2, "0.12")]   // exact tie: half to even
    [InlineData(0.375, 2, "0.38")]
    [InlineData(2.675, 2, "2.67")]   // stored just below 2.675
    [InlineData(24.515, 2, "24.52")] // stored just above
    [InlineData(100.00000000000004, 2, "100.00")]
    [InlineData(0.0, 2, "0.00")]
    [InlineData(99.995, 2, "100.00")]
    [InlineData(0.5, 0, "0")]
    [InlineData(1.5, 0, "2")]
    [InlineData(1.0, 3, "1.000")]
    [InlineData(-0.0, 1, "-0.0")]
    public void FixedFormatsLikePython(double x, int digits, string expected) => Assert.Equal(expected, PyFormat.Fixed(x, digits));
}
