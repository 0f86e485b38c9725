using System.Text.RegularExpressions;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Readme;

/// <summary>
/// The README's library example is this repository's code: its block equals the marked regions of
/// <see cref="LibraryExample"/> (usings, then the body, unindented), and that code runs on a tiny BERT.
/// </summary>
[Collection(CliRunner.Collection)] // the example writes to Console, which the in-process CLI tests redirect
public class LibraryExampleTests
{
    private static string RepoRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "PeftSharp.sln"))) root = root.Parent ?? throw new InvalidOperationException("no PeftSharp.sln above the test binaries");
        return root.FullName;
    }

    /// <summary>The lines between "// README "The library": begin NAME" and its end marker, with their common indentation removed.</summary>
    public static string Region(string source, string name)
    {
        var lines = source.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int begin = lines.FindIndex(l => l.Trim() == $"// README \"The library\": begin {name}");
        int end = lines.FindIndex(l => l.Trim() == $"// README \"The library\": end {name}");
        Assert.True(begin >= 0 && end > begin, $"markers of region {name} not found in LibraryExample.cs");
        var region = lines.Skip(begin + 1).Take(end - begin - 1).ToList();
        int indent = region.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        return string.Join('\n', region.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));
    }

    /// <summary>The first csharp block under "## The library" in the README.</summary>
    public static string ReadmeBlock(string readme)
    {
        var section = readme.Replace("\r\n", "\n")[readme.IndexOf("## The library", StringComparison.Ordinal)..];
        var match = Regex.Match(section, "```csharp\n(.*?)\n```", RegexOptions.Singleline);
        Assert.True(match.Success, "no csharp block under ## The library in README.md");
        return match.Groups[1].Value;
    }

    [Fact]
    public void TheReadmeQuotesTheCompiledExample()
    {
        var root = RepoRoot();
        var source = File.ReadAllText(Path.Combine(root, "tests", "PeftSharp.Tests", "Readme", "LibraryExample.cs"));
        var expected = Region(source, "usings") + "\n\n" + Region(source, "body");
        Assert.Equal(expected, ReadmeBlock(File.ReadAllText(Path.Combine(root, "README.md"))));
    }

    [Fact]
    public void RegionsAreFoundAndADifferentBlockIsNoMatch()
    {
        const string source = "x\n    // README \"The library\": begin body\n    var a = 1;\n        if (a) b();\n    // README \"The library\": end body\n";
        Assert.Equal("var a = 1;\n    if (a) b();", Region(source, "body"));
        Assert.Equal("var a = 2;", ReadmeBlock("# t\n```csharp\nnot this\n```\n## The library\n\ntext\n```csharp\nvar a = 2;\n```\n"));
    }

    [Fact]
    public void TheExampleTrainsSavesReloadsAndPredicts()
    {
        using var run = new TinyTrainingRun();
        manual_seed(11);
        var output = Path.Combine(run.Root, "example");
        double positive = LibraryExample.Run(run.ModelDir, run.DataFile, output);
        Assert.True(File.Exists(Path.Combine(output, "run", "adapter", "adapter_model.safetensors")), "the Trainer wrote no adapter");
        Assert.True(File.Exists(Path.Combine(output, "my-adapter", "adapter_config.json")));
        Assert.True(positive > 0.5, $"after fitting \"a great film\" as positive, P(positive) of \"what a great film\" is {positive:F3}");
    }
}
