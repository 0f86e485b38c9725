using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

/// <summary>AutoTokenizer.FromPretrained is the name AutoModel.FromPretrained leads a user to; FromFolder still works.</summary>
public class AutoTokenizerFromPretrainedTests
{
    [Fact]
    public void FromPretrainedOpensTheFolderAsFromFolderDoes()
    {
        Assert.Equal([101, 7592, 102], AutoTokenizer.FromPretrained(MiniLmFolder).Encode("Hello"));
        Assert.Equal([15496], AutoTokenizer.FromPretrained(Gpt2LegacyFolder).Encode("Hello"));
        Assert.Equal(AutoTokenizer.FromFolder(MiniLmFolder).Encode("a great film"), AutoTokenizer.FromPretrained(MiniLmFolder).Encode("a great film"));
        Assert.Throws<PeftException>(() => AutoTokenizer.FromPretrained("/nonexistent/model"));
    }
}
