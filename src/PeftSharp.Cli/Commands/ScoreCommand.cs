using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft score</c>: BLEU, chrF(++) or ROUGE of a hypotheses file against reference files, printed like sacreBLEU
/// prints them so the numbers can be pasted next to published ones.
/// </summary>
public static class ScoreCommand
{
    private const string Help =
        "Score system outputs against references with BLEU, chrF, chrF++ (identical to sacreBLEU 2.x) or ROUGE "
        + "(identical to Google's rouge_score). Files are UTF-8 with one segment per line; each --references file is one "
        + "reference set, line i belonging to hypothesis i. For ROUGE, rougeLsum splits summaries into sentences at line "
        + "breaks: write a line break inside a segment as the two characters \\n (backslash, n). "
        + "Text output is sacreBLEU's line (score rounded to 2 decimals); --json gives unrounded values.";

    public static Command Create()
    {
        var metric = new Option<string>("--metric") { Description = "bleu, chrf, chrf++ or rouge", Required = true };
        metric.AcceptOnlyFromAmong("bleu", "chrf", "chrf++", "rouge");
        var hypotheses = new Option<string>("--hypotheses") { Description = "System outputs, one segment per line", Required = true };
        var references = new Option<string[]>("--references")
        {
            Description = "Reference file, one segment per line; repeat the option for several references",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var tokenize = new Option<string?>("--tokenize") { Description = "BLEU tokenizer: 13a (default), intl, char or none" };
        tokenize.AcceptOnlyFromAmong([.. BleuTokenizers.Names]);
        var lowercase = new Option<bool>("--lowercase") { Description = "Lower-case before scoring (BLEU, chrF)" };
        var smooth = new Option<string?>("--smooth") { Description = "BLEU smoothing: exp (default), floor, add-k or none" };
        smooth.AcceptOnlyFromAmong([.. BleuSmoothings.Names]);
        var smoothValue = new Option<double?>("--smooth-value") { Description = "Value for floor (default 0.1) or add-k (default 1)" };
        var stemmer = new Option<bool>("--stemmer") { Description = "ROUGE: Porter-stem tokens longer than 3 characters" };
        var json = new Option<bool>("--json") { Description = "Print JSON with unrounded values (ROUGE: also every pair)" };

        var cmd = new Command("score", Help);
        foreach (var option in new Option[] { metric, hypotheses, references, tokenize, lowercase, smooth, smoothValue, stemmer, json })
            cmd.Options.Add(option);

        cmd.SetAction(parseResult => CommandRunner.Run(() =>
        {
            var request = new ScoreRequest(
                parseResult.GetValue(metric)!,
                parseResult.GetValue(hypotheses)!,
                parseResult.GetValue(references) ?? [],
                parseResult.GetValue(tokenize),
                parseResult.GetValue(lowercase),
                parseResult.GetValue(smooth),
                parseResult.GetValue(smoothValue),
                parseResult.GetValue(stemmer),
                parseResult.GetValue(json));
            Console.Out.Write(Execute(request));
            return 0;
        }));
        return cmd;
    }

    /// <summary>The options of one <c>peft score</c> run.</summary>
    public sealed record ScoreRequest(
        string Metric, string Hypotheses, string[] References, string? Tokenize, bool Lowercase,
        string? Smooth, double? SmoothValue, bool Stemmer, bool Json);

    /// <summary>Runs a request and returns what the command prints.</summary>
    public static string Execute(ScoreRequest r)
    {
        CheckOptionsApply(r);
        bool rouge = r.Metric == "rouge";
        var hyps = ScoreInputFile.ReadSegments(r.Hypotheses, literalNewlines: rouge);
        var streams = new List<IReadOnlyList<string>>();
        foreach (string path in r.References)
        {
            var lines = ScoreInputFile.ReadSegments(path, literalNewlines: rouge);
            if (lines.Count != hyps.Count)
                throw new PeftException($"{r.Hypotheses} has {hyps.Count} segments but {path} has {lines.Count}; they must pair up line by line");
            streams.Add(lines);
        }
        var refs = MetricInputs.FromStreams(streams);

        return r.Metric switch
        {
            "bleu" => FormatBleu(r, hyps, refs),
            "chrf" or "chrf++" => FormatChrF(r, hyps, refs),
            _ => FormatRouge(r, hyps, refs),
        };
    }

    private static void CheckOptionsApply(ScoreRequest r)
    {
        if (r.References.Length == 0) throw new PeftException("give at least one --references file");
        if (r.Metric != "bleu" && (r.Tokenize is not null || r.Smooth is not null || r.SmoothValue is not null))
            throw new PeftException("--tokenize, --smooth and --smooth-value apply only to --metric bleu");
        if (r.Metric != "rouge" && r.Stemmer)
            throw new PeftException("--stemmer applies only to --metric rouge");
        if (r.Metric == "rouge" && r.Lowercase)
            throw new PeftException("ROUGE always lower-cases; --lowercase applies to bleu and chrf");
        if (r.SmoothValue is not null && r.Smooth is not ("floor" or "add-k"))
            throw new PeftException("--smooth-value needs --smooth floor or --smooth add-k");
    }

    private static string FormatBleu(ScoreRequest r, List<string> hyps, IReadOnlyList<IReadOnlyList<string>> refs)
    {
        var bleu = new Bleu(new BleuOptions
        {
            Tokenize = r.Tokenize ?? "13a",
            Lowercase = r.Lowercase,
            Smoothing = BleuSmoothings.Parse(r.Smooth ?? "exp"),
            SmoothValue = r.SmoothValue,
        });
        var score = bleu.CorpusScore(hyps, refs);
        string signature = bleu.Signature(refs);
        if (!r.Json) return score.Format(signature) + Environment.NewLine;
        return WriteJson(w =>
        {
            WriteHeader(w, "BLEU", score.Score, signature);
            w.WriteString("verbose_score", score.Verbose);
            WriteNumbers(w, "counts", score.Counts);
            WriteNumbers(w, "totals", score.Totals);
            WriteNumbers(w, "precisions", score.Precisions);
            w.WriteNumber("bp", score.BrevityPenalty);
            w.WriteNumber("sys_len", score.SysLen);
            w.WriteNumber("ref_len", score.RefLen);
            WriteSignatureFields(w, signature);
        });
    }

    private static string FormatChrF(ScoreRequest r, List<string> hyps, IReadOnlyList<IReadOnlyList<string>> refs)
    {
        var options = (r.Metric == "chrf++" ? ChrFOptions.ChrFPlusPlus : ChrFOptions.ChrF) with { Lowercase = r.Lowercase };
        var chrf = new ChrF(options);
        var score = chrf.CorpusScore(hyps, refs);
        string signature = chrf.Signature(refs);
        if (!r.Json) return score.Format(signature) + Environment.NewLine;
        return WriteJson(w =>
        {
            WriteHeader(w, score.Name, score.Score, signature);
            WriteNumbers(w, "stats", score.Statistics.Select(x => (double)x).ToArray());
            WriteSignatureFields(w, signature);
        });
    }

    private static string FormatRouge(ScoreRequest r, List<string> hyps, IReadOnlyList<IReadOnlyList<string>> refs)
    {
        var rouge = new Rouge(Rouge.DefaultTypes, r.Stemmer);
        var score = rouge.CorpusScore(hyps, refs);
        string signature = $"nrefs:{MetricInputs.NRefs(refs)}|stem:{(r.Stemmer ? "yes" : "no")}|sent:newline|version:{MetricsVersion.Value}";
        if (!r.Json)
        {
            var sb = new StringBuilder();
            sb.Append("ROUGE|").Append(signature).Append(" (mean of ").Append(hyps.Count).Append(" pairs)").AppendLine();
            foreach (string type in score.Types)
            {
                var m = score.Mean[type];
                sb.Append(type.PadRight(10)).Append("P = ").Append(PyFormat.Fixed(m.Precision, 6))
                    .Append(" R = ").Append(PyFormat.Fixed(m.Recall, 6))
                    .Append(" F = ").Append(PyFormat.Fixed(m.FMeasure, 6)).AppendLine();
            }
            return sb.ToString();
        }
        return WriteJson(w =>
        {
            w.WriteString("name", "ROUGE");
            w.WriteString("signature", signature);
            w.WriteStartObject("mean");
            foreach (string type in score.Types) WriteRouge(w, type, score.Mean[type]);
            w.WriteEndObject();
            w.WriteStartArray("per_pair");
            foreach (var pair in score.PerPair)
            {
                w.WriteStartObject();
                foreach (string type in score.Types) WriteRouge(w, type, pair[type]);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteSignatureFields(w, signature);
        });
    }

    private static void WriteRouge(Utf8JsonWriter w, string type, RougeScore s)
    {
        w.WriteStartObject(type);
        w.WriteNumber("precision", s.Precision);
        w.WriteNumber("recall", s.Recall);
        w.WriteNumber("fmeasure", s.FMeasure);
        w.WriteEndObject();
    }

    // sacreBLEU's JSON keys, except that "score" is not rounded; "score_rounded" is the printed value.
    private static void WriteHeader(Utf8JsonWriter w, string name, double score, string signature)
    {
        w.WriteString("name", name);
        w.WriteNumber("score", score);
        w.WriteString("score_rounded", PyFormat.Fixed(score, 2));
        w.WriteString("signature", signature);
    }

    private static void WriteSignatureFields(Utf8JsonWriter w, string signature)
    {
        foreach (string part in signature.Split('|'))
        {
            int colon = part.IndexOf(':', StringComparison.Ordinal);
            w.WriteString(part[..colon], part[(colon + 1)..]);
        }
    }

    private static void WriteNumbers(Utf8JsonWriter w, string name, IReadOnlyList<double> values)
    {
        w.WriteStartArray(name);
        foreach (double v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    private static string WriteJson(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + Environment.NewLine;
    }
}
