using System.Globalization;
using System.Text;
using System.Text.Json;
using PeftSharp.IO;

namespace PeftSharp.Training.Reporting;

/// <summary>
/// The run's metrics.jsonl: one JSON object per line, <c>{"type":"step",...}</c> or <c>{"type":"eval",...}</c>, keys in
/// snake_case. JSON lines because a line is either whole or torn, never half-merged: every line is flushed as it is
/// written, so a killed run keeps all it logged, and a reader skips a torn last line. A resumed run truncates the log
/// to its checkpoint's step so that the steps it repeats are not logged twice. Non-finite numbers (a diverged loss)
/// are written as the strings "NaN", "Infinity", "-Infinity", since JSON has no literal for them.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";

    private readonly FileStream _stream;
    private readonly object _gate = new();

    private MetricsLog(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    public string Path { get; }

    /// <summary>A new, empty log in the run folder (an old one there is replaced).</summary>
    public static MetricsLog Create(string runDir)
    {
        Directory.CreateDirectory(runDir);
        var path = System.IO.Path.Combine(runDir, FileName);
        return new MetricsLog(path, new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read));
    }

    /// <summary>
    /// Re-opens the log of a run resumed from <paramref name="resumedStep"/>: records after that step (logged before the
    /// interruption, about to be redone) and a torn last line are dropped (the file is rewritten atomically), then new
    /// records are appended. Without a log, starts an empty one.
    /// </summary>
    public static MetricsLog Resume(string runDir, int resumedStep)
    {
        Directory.CreateDirectory(runDir);
        var path = System.IO.Path.Combine(runDir, FileName);
        if (File.Exists(path))
        {
            var kept = new StringBuilder();
            foreach (var (line, step) in ReadLines(path))
                if (step <= resumedStep) kept.Append(line).Append('\n');
            AtomicFile.WriteAllText(path, kept.ToString());
        }
        return new MetricsLog(path, new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read));
    }

    public void Append(StepRecord r) => WriteLine(w =>
    {
        w.WriteString("type", "step");
        w.WriteNumber("step", r.Step);
        w.WriteNumber("epoch", r.Epoch);
        Number(w, "loss", r.Loss);
        Number(w, "learning_rate", r.LearningRate);
        if (r.GradNorm is { } g) Number(w, "grad_norm", g);
        else w.WriteNull("grad_norm");
        w.WriteNumber("tokens", r.Tokens);
        Number(w, "tokens_per_second", r.TokensPerSecond);
        Number(w, "elapsed_seconds", r.ElapsedSeconds);
    });

    public void Append(EvalRecord r) => WriteLine(w =>
    {
        w.WriteString("type", "eval");
        w.WriteNumber("step", r.Step);
        w.WriteNumber("epoch", r.Epoch);
        w.WriteStartObject("metrics");
        foreach (var (name, value) in r.Metrics) Number(w, name, value);
        w.WriteEndObject();
        Number(w, "elapsed_seconds", r.ElapsedSeconds);
    });

    /// <summary>
    /// The earlier rounds' sets compared at the end of the run (<c>{"type":"retention",...}</c>): per set its metrics before
    /// and after and, for classification, the transitions.
    /// </summary>
    public void Append(int step, IReadOnlyList<Rounds.SetComparison> sets) => WriteLine(w =>
    {
        w.WriteString("type", "retention");
        w.WriteNumber("step", step);
        w.WriteStartArray("sets");
        foreach (var set in sets)
        {
            w.WriteStartObject();
            w.WriteString("name", set.Name);
            w.WriteString("source", set.Source);
            w.WriteNumber("examples", set.Examples);
            foreach (var (key, metrics) in new[] { ("before", set.Before), ("after", set.After) })
            {
                w.WriteStartObject(key);
                foreach (var (name, value) in metrics) Number(w, name, value);
                w.WriteEndObject();
            }
            if (set.Transitions is { } t)
            {
                w.WriteStartObject("transitions");
                w.WriteNumber("right_to_right", t.RightToRight);
                w.WriteNumber("right_to_wrong", t.RightToWrong);
                w.WriteNumber("wrong_to_right", t.WrongToRight);
                w.WriteNumber("wrong_to_wrong", t.WrongToWrong);
                Number(w, "forgetting_rate", t.ForgettingRate);
                Number(w, "backward_transfer_rate", t.BackwardTransferRate);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    /// <summary>Reads a log back; a torn last line (a killed run) is ignored, a bad line elsewhere is an error.</summary>
    public static (List<StepRecord> Steps, List<EvalRecord> Evaluations) Read(string path)
    {
        if (!File.Exists(path)) throw new PeftException($"{path}: metrics log not found");
        var steps = new List<StepRecord>();
        var evaluations = new List<EvalRecord>();
        foreach (var (line, _) in ReadLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            switch (e.GetProperty("type").GetString())
            {
                case "step":
                    steps.Add(new StepRecord(e.GetProperty("step").GetInt32(), e.GetProperty("epoch").GetInt32(), Double(e, "loss"),
                        Double(e, "learning_rate"), e.TryGetProperty("grad_norm", out var g) && g.ValueKind != JsonValueKind.Null ? Double(g) : null,
                        e.GetProperty("tokens").GetInt64(), Double(e, "tokens_per_second"), Double(e, "elapsed_seconds")));
                    break;
                case "eval":
                    var metrics = e.GetProperty("metrics").EnumerateObject().ToDictionary(p => p.Name, p => Double(p.Value));
                    evaluations.Add(new EvalRecord(e.GetProperty("step").GetInt32(), e.GetProperty("epoch").GetInt32(), metrics, Double(e, "elapsed_seconds")));
                    break;
                // other types: written by a newer PeftSharp; skipped
            }
        }
        return (steps, evaluations);
    }

    public void Dispose()
    {
        lock (_gate) _stream.Dispose();
    }

    private void WriteLine(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        lock (_gate)
        {
            // One write per line, then flushed to the OS: a process killed after this returns has the whole line.
            _stream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            _stream.Flush();
        }
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteString(name, value.ToString(CultureInfo.InvariantCulture));
    }

    private static double Double(JsonElement parent, string name) => Double(parent.GetProperty(name));

    private static double Double(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? double.Parse(e.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
        : e.GetDouble();

    /// <summary>
    /// The log's lines with their step, each checked to be a JSON object with a step; a line that is not is an error
    /// naming file and line, unless it is the last one (torn by a kill mid-write), which is dropped.
    /// </summary>
    private static List<(string Line, int Step)> ReadLines(string path)
    {
        var lines = File.ReadAllText(path).Split('\n');
        var result = new List<(string, int)>();
        int last = Array.FindLastIndex(lines, l => l.Trim().Length > 0);
        for (int i = 0; i <= last; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0) continue;
            if (TryStep(line, out var step)) result.Add((line, step));
            else if (i < last) throw new PeftException($"{path}, line {i + 1}: not a metrics record: {Shorten(line)}");
        }
        return result;
    }

    private static bool TryStep(string line, out int step)
    {
        step = 0;
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("step", out var s)
                || !s.TryGetInt32(out step) || !doc.RootElement.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String)
                return false;
            return Validates(doc.RootElement, t.GetString()!);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Checks that the fields <see cref="Read"/> needs are there, so a line that passes here always reads.</summary>
    private static bool Validates(JsonElement e, string type)
    {
        static bool Num(JsonElement e, string name) => e.TryGetProperty(name, out var v) && IsNumber(v);
        static bool IsNumber(JsonElement v) => v.ValueKind == JsonValueKind.Number
            || v.ValueKind == JsonValueKind.String && double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out _);
        return type switch
        {
            "step" => e.TryGetProperty("epoch", out var ep) && ep.TryGetInt32(out _) && Num(e, "loss") && Num(e, "learning_rate")
                && (!e.TryGetProperty("grad_norm", out var g) || g.ValueKind == JsonValueKind.Null || IsNumber(g))
                && e.TryGetProperty("tokens", out var t) && t.TryGetInt64(out _) && Num(e, "tokens_per_second") && Num(e, "elapsed_seconds"),
            "eval" => e.TryGetProperty("epoch", out var ep2) && ep2.TryGetInt32(out _) && Num(e, "elapsed_seconds")
                && e.TryGetProperty("metrics", out var m) && m.ValueKind == JsonValueKind.Object && m.EnumerateObject().All(p => IsNumber(p.Value)),
            _ => true,
        };
    }

    private static string Shorten(string line) => line.Length <= 80 ? line : line[..80] + "…";
}
