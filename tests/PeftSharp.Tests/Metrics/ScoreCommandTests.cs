using System.Text;
using System.Text.Json;
using PeftSharp.Cli;

namespace PeftSharp.Tests.Metrics;

/// <summary><c>peft score</c> run in-process on files written from the reference cases.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class ScoreCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("peft-score-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            int code = Program.BuildRoot().Parse(args).Invoke();
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    private string Write(string name, IEnumerable<string> lines)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")), new UTF8Encoding(false));
        return path;
    }

    /// <summary>Writes a case's hypotheses and one file per reference set; returns the arguments naming them.</summary>
    private string[] CaseFiles(string file, string id, bool escapeNewlines = false)
    {
        var c = MetricCases.Case(file, id);
        Func<string, string> esc = escapeNewlines ? s => s.Replace("\n", "\\n") : s => s;
        var refs = MetricCases.References(c);
        var args = new List<string> { "--hypotheses", Write("hyp.txt", MetricCases.Hypotheses(c).Select(esc)) };
        for (int k = 0; k < refs[0].Count; k++)
            args.AddRange(["--references", Write($"ref{k}.txt", refs.Select(r => esc(r[k])))]);
        return [.. args];
    }

    [Theory]
    [InlineData("p02", 0)] // 13a, exp
    [InlineData("p18", 1)] // three references, intl
    [InlineData("p26", 4)] // floor
    [InlineData("p37", 5)] // add-k, three references
    [InlineData("p20", 3)] // lowercase
    public void BleuPrintsSacreBleusLine(string id, int variant)
    {
        var expected = MetricCases.Case("bleu.json", id).GetProperty("corpus_bleu")[variant];
        var o = expected.GetProperty("options");
        var args = new List<string> { "score", "--metric", "bleu", "--tokenize", o.GetProperty("tokenize").GetString()!,
            "--smooth", o.GetProperty("smooth_method").GetString()! };
        if (o.GetProperty("lowercase").GetBoolean()) args.Add("--lowercase");
        args.AddRange(CaseFiles("bleu.json", id));

        var (code, stdout, stderr) = Run([.. args]);
        Assert.True(code == 0, stderr);
        var e = expected.GetProperty("expected");
        string sig = MetricCases.WithoutVersion(expected.GetProperty("signature").GetString()!);
        string prefix = $"BLEU|{sig}|version:";
        Assert.StartsWith(prefix, stdout);
        string precisions = string.Join('/', MetricCases.Doubles(e.GetProperty("precisions")).Select(p => Evaluation.Metrics.PyFormat.Fixed(p, 1)));
        Assert.Contains($" = {Evaluation.Metrics.PyFormat.Fixed(e.GetProperty("score").GetDouble(), 2)} {precisions} (BP = ", stdout);
    }

    [Fact]
    public void BleuJsonHasUnroundedScoreAndSignatureFields()
    {
        var expected = MetricCases.Case("bleu.json", "p25").GetProperty("corpus_bleu")[0].GetProperty("expected");
        var (code, stdout, stderr) = Run(["score", "--metric", "bleu", "--json", .. CaseFiles("bleu.json", "p25")]);
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        MetricCases.Close(expected.GetProperty("score").GetDouble(), json.GetProperty("score").GetDouble(), "json score");
        Assert.Equal("13a", json.GetProperty("tok").GetString());
        Assert.Equal(expected.GetProperty("ref_len").GetInt32(), json.GetProperty("ref_len").GetInt32());
    }

    [Theory]
    [InlineData("chrf", 0)]
    [InlineData("chrf++", 1)]
    public void ChrFJsonMatchesSacreBleu(string metric, int variant)
    {
        var expected = MetricCases.Case("chrf.json", "p19").GetProperty("corpus_chrf")[variant];
        var (code, stdout, stderr) = Run(["score", "--metric", metric, "--json", .. CaseFiles("chrf.json", "p19")]);
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        MetricCases.Close(expected.GetProperty("expected").GetProperty("score").GetDouble(), json.GetProperty("score").GetDouble(), metric);
        Assert.StartsWith(MetricCases.WithoutVersion(expected.GetProperty("signature").GetString()!), json.GetProperty("signature").GetString());
    }

    [Theory]
    [InlineData("p14", false)]
    [InlineData("p41", true)]
    [InlineData("p37", true)]
    public void RougeJsonMatchesRougeScoreWithLiteralNewlines(string id, bool stem)
    {
        var expected = MetricCases.Case("rouge.json", id).GetProperty("rouge")[stem ? 1 : 0].GetProperty("expected");
        string[] args = ["score", "--metric", "rouge", "--json", .. CaseFiles("rouge.json", id, escapeNewlines: true)];
        var (code, stdout, stderr) = Run(stem ? [.. args, "--stemmer"] : args);
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        foreach (string type in new[] { "rouge1", "rouge2", "rougeL", "rougeLsum" })
        {
            MetricCases.Close(expected.GetProperty("mean_fmeasure").GetProperty(type).GetDouble(),
                json.GetProperty("mean").GetProperty(type).GetProperty("fmeasure").GetDouble(), type);
            for (int i = 0; i < expected.GetProperty("per_pair").GetArrayLength(); i++)
                MetricCases.Close(expected.GetProperty("per_pair")[i].GetProperty(type).GetProperty("recall").GetDouble(),
                    json.GetProperty("per_pair")[i].GetProperty(type).GetProperty("recall").GetDouble(), $"{type} pair {i}");
        }
    }

    [Fact]
    public void RougeTextPrintsOneLinePerType()
    {
        var (code, stdout, _) = Run(["score", "--metric", "rouge", .. CaseFiles("rouge.json", "p02")]);
        Assert.Equal(0, code);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ROUGE|nrefs:1|stem:no|", lines[0]);
        Assert.Equal(["rouge1", "rouge2", "rougeL", "rougeLsum"], lines.Skip(1).Select(l => l.Split(' ')[0]));
    }

    [Fact]
    public void DifferentLineCountsAreAClearError()
    {
        string hyp = Write("h.txt", ["a", "b", "c"]);
        string reference = Write("r.txt", ["a", "b"]);
        var (code, _, stderr) = Run(["score", "--metric", "bleu", "--hypotheses", hyp, "--references", reference]);
        Assert.Equal(CommandRunner.UserError, code);
        Assert.Contains("has 3 segments but", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void EmptyFileIsAClearError()
    {
        string hyp = Path.Combine(_dir, "empty.txt");
        File.WriteAllBytes(hyp, []);
        var (code, _, stderr) = Run(["score", "--metric", "chrf", "--hypotheses", hyp, "--references", Write("r.txt", ["a"])]);
        Assert.Equal(CommandRunner.UserError, code);
        Assert.Contains("is empty", stderr);
    }

    [Fact]
    public void InvalidUtf8IsAClearError()
    {
        string hyp = Path.Combine(_dir, "bad.txt");
        File.WriteAllBytes(hyp, [(byte)'o', (byte)'k', 0xC3, 0x28, (byte)'\n']);
        var (code, _, stderr) = Run(["score", "--metric", "rouge", "--hypotheses", hyp, "--references", Write("r.txt", ["ok"])]);
        Assert.Equal(CommandRunner.UserError, code);
        Assert.Contains("not valid UTF-8 (byte 2)", stderr);
    }

    [Fact]
    public void MissingFileIsAClearError()
    {
        var (code, _, stderr) = Run(["score", "--metric", "bleu", "--hypotheses", Path.Combine(_dir, "nope.txt"),
            "--references", Write("r.txt", ["a"])]);
        Assert.Equal(CommandRunner.UserError, code);
        Assert.Contains("nope.txt", stderr);
    }

    [Fact]
    public void EmptyLinesAreEmptySegmentsAndCrLfIsALineEnd()
    {
        string hyp = Path.Combine(_dir, "h.txt");
        File.WriteAllText(hyp, "the cat\r\n\r\n");
        var (code, stdout, stderr) = Run(["score", "--metric", "bleu", "--hypotheses", hyp, "--references", Write("r.txt", ["the cat", "a dog"])]);
        Assert.True(code == 0, stderr);
        Assert.Contains("hyp_len = 2 ref_len = 4", stdout);
    }

    [Theory]
    [InlineData("chrf", "--tokenize", "intl")]
    [InlineData("rouge", "--smooth", "floor")]
    [InlineData("bleu", "--stemmer", null)]
    [InlineData("rouge", "--lowercase", null)]
    public void OptionsForAnotherMetricAreRejected(string metric, string option, string? value)
    {
        string[] files = ["--hypotheses", Write("h.txt", ["a"]), "--references", Write("r.txt", ["a"])];
        string[] args = value is null ? ["score", "--metric", metric, option, .. files] : ["score", "--metric", metric, option, value, .. files];
        var (code, _, stderr) = Run(args);
        Assert.Equal(CommandRunner.UserError, code);
        Assert.Contains(option.TrimStart('-'), stderr);
    }

    [Fact]
    public void UnknownMetricIsRejectedByTheParser()
    {
        var (code, _, stderr) = Run(["score", "--metric", "meteor", "--hypotheses", "h", "--references", "r"]);
        Assert.NotEqual(0, code);
        Assert.Contains("meteor", stderr);
    }

    [Fact]
    public void HelpSaysHowToWriteNewlinesForRougeLsum()
    {
        var (code, stdout, _) = Run(["score", "--help"]);
        Assert.Equal(0, code);
        Assert.Contains("\\n (backslash, n)", stdout);
    }
}
