using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Tests.Metrics;

/// <summary>
/// Stems produced by NLTK 3.8's PorterStemmer() (NLTK_EXTENSIONS; the algorithm is unchanged in 3.9.1), one or two
/// words per rule, including NLTK's departures from the original paper.
/// </summary>
public class PorterStemmerTests
{
    [Theory]
    [InlineData("caresses", "caress")] [InlineData("ponies", "poni")] [InlineData("ties", "tie")] [InlineData("cats", "cat")]
    [InlineData("feed", "feed")] [InlineData("agreed", "agre")] [InlineData("plastered", "plaster")] [InlineData("motoring", "motor")]
    [InlineData("sing", "sing")] [InlineData("conflated", "conflat")] [InlineData("troubled", "troubl")] [InlineData("sized", "size")]
    [InlineData("hopping", "hop")] [InlineData("falling", "fall")] [InlineData("hissing", "hiss")] [InlineData("filing", "file")]
    [InlineData("happy", "happi")] [InlineData("sky", "sky")] [InlineData("skies", "sky")] [InlineData("dying", "die")]
    [InlineData("news", "news")] [InlineData("relational", "relat")] [InlineData("conditional", "condit")]
    [InlineData("rational", "ration")] [InlineData("valenci", "valenc")] [InlineData("digitizer", "digit")]
    [InlineData("radically", "radic")] [InlineData("generously", "gener")] [InlineData("hopefulness", "hope")]
    [InlineData("formaliti", "formal")] [InlineData("sensibiliti", "sensibl")] [InlineData("triplicate", "triplic")]
    [InlineData("formative", "form")] [InlineData("electrical", "electr")] [InlineData("goodness", "good")]
    [InlineData("revival", "reviv")] [InlineData("allowance", "allow")] [InlineData("airliner", "airlin")]
    [InlineData("gyroscopic", "gyroscop")] [InlineData("adjustable", "adjust")] [InlineData("adoption", "adopt")]
    [InlineData("communism", "commun")] [InlineData("activate", "activ")] [InlineData("effective", "effect")]
    [InlineData("bowdlerize", "bowdler")] [InlineData("probate", "probat")] [InlineData("rate", "rate")] [InlineData("cease", "ceas")]
    [InlineData("controll", "control")] [InlineData("roll", "roll")] [InlineData("organizations", "organ")]
    [InlineData("running", "run")] [InlineData("runners", "runner")] [InlineData("analogi", "analog")]
    [InlineData("innings", "inning")] [InlineData("proceed", "proceed")] [InlineData("exceed", "exceed")]
    [InlineData("enjoy", "enjoy")] [InlineData("spied", "spi")] [InlineData("aed", "a")] [InlineData("oing", "o")]
    public void StemsLikeNltk(string word, string stem) => Assert.Equal(stem, new PorterStemmer().Stem(word));
}
