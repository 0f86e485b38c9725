using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>Tokenizer outputs checked against sacreBLEU 2.6.0's own tokenizers on the same strings.</summary>
public class TokenizerTests
{
    [Theory]
    [InlineData("It costs $1,250.50 (approx.) -- see &quot;the-plan&quot; on 12-14 May.",
        "It costs $ 1,250.50 ( approx . ) -- see \" the-plan \" on 12 - 14 May .")]
    [InlineData("Dr. Smith &amp; co.<skipped> well-\nknown, e.g. 3.14.", "Dr . Smith & co . wellknown , e . g . 3.14 .")]
    [InlineData("Preis: 25€ – „gut“ ¿sí? 2019. 1.000,5 x·y", "Preis : 25€ – „gut“ ¿sí ? 2019 . 1.000,5 x·y")]
    [InlineData("emoji😀ok 𐄀word 3²+4²=5²", "emoji😀ok 𐄀word 3² + 4² = 5²")]
    [InlineData("a\u001cb\u3000c\u00a0d", "a b c d")]
    public void Tokenizer13aMatchesSacreBleu(string input, string expected) =>
        Assert.Equal(expected, new Tokenizer13a().Tokenize(input));

    [Theory]
    [InlineData("It costs $1,250.50 (approx.) -- see &quot;the-plan&quot; on 12-14 May.",
        "It costs $ 1,250.50 ( approx . ) - - see & quot ; the - plan & quot ; on 12-14 May .")]
    [InlineData("Dr. Smith &amp; co.<skipped> well-\nknown, e.g. 3.14.",
        "Dr . Smith & amp ; co . < skipped > well - known , e . g . 3.14.")]
    [InlineData("Preis: 25€ – „gut“ ¿sí? 2019. 1.000,5 x·y", "Preis : 25 € – „ gut “ ¿ sí ? 2019 . 1.000,5 x · y")]
    [InlineData("emoji😀ok 𐄀word 3²+4²=5²", "emoji 😀 ok 𐄀 word 3² + 4² = 5²")]
    public void TokenizerIntlMatchesSacreBleu(string input, string expected) =>
        Assert.Equal(expected, new TokenizerIntl().Tokenize(input));

    [Fact]
    public void CharTokenizerSplitsCodePointsNotUtf16Units() =>
        Assert.Equal("e m o j i 😀 o k   𐄀 w", new TokenizerChar().Tokenize("emoji😀ok 𐄀w"));

    [Fact]
    public void NoneTokenizerLeavesTheLineAlone() => Assert.Equal("a,b  c", new TokenizerNone().Tokenize("a,b  c"));

    [Fact]
    public void UnknownTokenizerIsAUserError() => Assert.Throws<PeftException>(() => BleuTokenizers.Get("zh"));
}
