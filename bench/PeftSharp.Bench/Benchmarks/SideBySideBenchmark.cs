using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// PeftSharp's training step against Python PEFT's on the same shapes, on this machine, now: for each row (GPT-2 shape x
/// method x precision) the two run alternately, A B A B, each run a fresh process (ours: <c>train STEPS SHAPE METHOD
/// --json</c>; Python: <c>bench/python/bench_train.py</c> through <c>../shared/refstack/py.sh</c>, transformers 4.56 +
/// peft 0.18.1 on Debian's PyTorch 2.6, with its native AVX-512 kernels and without deterministic mode, its best CPU
/// setting), so that a change in the machine's load hits both. It prints s/step as median (min-max) over the rounds,
/// the speed ratio Python/ours as the median (min-max) of each round's ratio, and peak RSS; first the CPU, its bf16
/// support and the date, because these numbers hold for this machine only. Where the reference stack is not built it
/// runs ours alone and says so.
/// <code>dotnet run -c Release --project bench/PeftSharp.Bench -- sidebyside [STEPS] [--rounds N] [--rows 4x256:lora-c_attn,...] [--precision fp32|bf16|both]</code>
/// With <c>--generate</c> the rows are greedy generation instead (SHAPE:BATCH, default 12x768 and 4x256 at batch 1 and 8,
/// <c>--new</c> tokens, 128 by default): ours through <c>generate one</c> (<see cref="GenerationBenchmark"/>), Python's
/// through <c>bench/python/bench_generate.py</c> (transformers' <c>generate</c> with its KV cache), the same protocol.
/// </summary>
public static class SideBySideBenchmark
{
    private static readonly string[] AllRows =
        ["4x256:lora-c_attn", "4x256:lora-all-linear", "4x256:full", "12x768:lora-c_attn", "12x768:lora-all-linear", "12x768:full"];

    private static readonly string[] GenerationRows = ["12x768:1", "12x768:8", "4x256:1", "4x256:8"];

    public static int Run(string[] args)
    {
        bool generate = args.Contains("--generate");
        int newTokens = Value(args, "--new") is { } nt ? int.Parse(nt, CultureInfo.InvariantCulture) : 128;
        int steps = args.Length > 0 && int.TryParse(args[0], out var s) ? s : 5;
        int rounds = Value(args, "--rounds") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 3;
        var rows = Value(args, "--rows")?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? (generate ? GenerationRows : AllRows);
        var precisions = (Value(args, "--precision") ?? "fp32") switch
        {
            "both" => new[] { "fp32", "bf16" },
            var p => [p],
        };
        var python = Refstack.Find();
        Console.WriteLine($"{Machine.Describe()}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {Environment.ProcessorCount} threads each; "
            + (generate ? $"greedy, 32-token prompt, {newTokens} new tokens, 3 timed calls after 1 warm-up" : $"{steps} timed steps after 2 warm-up")
            + $", {rounds} rounds A B A B, each run a fresh process");
        Console.WriteLine(python is null
            ? $"Python PEFT: not measured ({Refstack.Missing}); PeftSharp alone"
            : $"Python PEFT through {python} (REFSTACK_ISA=native, REFSTACK_DETERMINISTIC=0)");
        Console.WriteLine();
        Console.WriteLine(generate
            ? "| shape | batch | precision | PeftSharp s/call | Python s/call | PeftSharp / Python tokens/s | PeftSharp / Python peak RSS |"
            : "| shape | method | precision | PeftSharp s/step | Python s/step | Python / PeftSharp time | PeftSharp / Python peak RSS |");
        Console.WriteLine("|---|---|---|---:|---:|---:|---:|");
        foreach (var precision in precisions)
            foreach (var row in rows)
            {
                var (shape, method) = (row.Split(':')[0], row.Split(':')[1]);
                var ours = new List<Result>();
                var theirs = new List<Result>();
                for (int round = 0; round < rounds; round++)
                {
                    ours.Add(generate ? OursGenerating(shape, method, precision, newTokens) : Ours(shape, method, precision, steps));
                    if (python != null) theirs.Add(generate ? PythonGenerating(python, shape, method, precision, newTokens) : Python(python, shape, method, precision, steps));
                }
                Console.WriteLine(Line(shape, method, precision, ours, theirs));
            }
        return 0;
    }

    private sealed record Result(double Seconds, double PeakGiB, string? Error);

    private static string Line(string shape, string method, string precision, List<Result> ours, List<Result> theirs)
    {
        string Spread(IEnumerable<double> values, string format)
        {
            var v = values.Order().ToList();
            if (v.Count == 0) return "-";
            double median = v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
            return v.Count == 1 ? v[0].ToString(format, CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{median.ToString(format, CultureInfo.InvariantCulture)} ({v[0].ToString(format, CultureInfo.InvariantCulture)}-{v[^1].ToString(format, CultureInfo.InvariantCulture)})");
        }
        var errors = ours.Concat(theirs).Select(r => r.Error).OfType<string>().Distinct().ToList();
        var good = ours.Zip(theirs.Count > 0 ? theirs : ours.Select(_ => (Result?)null)!, (a, b) => (a, b)).ToList();
        var ratios = theirs.Count == 0 ? [] : good.Where(p => p.a.Error is null && p.b is { Error: null }).Select(p => p.b!.Seconds / p.a.Seconds).ToList();
        var ok = ours.Where(o => o.Error is null).ToList();
        var okTheirs = theirs.Where(o => o.Error is null).ToList();
        string memory = ok.Count > 0 && okTheirs.Count > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{ok.Max(o => o.PeakGiB):F2} / {okTheirs.Max(o => o.PeakGiB):F2} GiB")
            : ok.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $"{ok.Max(o => o.PeakGiB):F2} / - GiB") : "-";
        var line = $"| {shape} | {method} | {precision} | {Spread(ok.Select(o => o.Seconds), "F2")} | {Spread(okTheirs.Select(o => o.Seconds), "F2")} | {Spread(ratios, "F2")} | {memory} |";
        return errors.Count == 0 ? line : line + " " + string.Join("; ", errors);
    }

    private static Result Ours(string shape, string method, string precision, int steps)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!, [typeof(SideBySideBenchmark).Assembly.Location, "train",
            steps.ToString(CultureInfo.InvariantCulture), shape, method.Replace('-', ' ').Replace("all linear", "all-linear", StringComparison.Ordinal),
            "--json", "--precision", precision]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (psi.FileName.EndsWith("PeftSharp.Bench", StringComparison.Ordinal)) psi.ArgumentList.RemoveAt(0);
        return Parse(psi, "PeftSharp");
    }

    private static Result OursGenerating(string shape, string batch, string precision, int newTokens)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!, [typeof(SideBySideBenchmark).Assembly.Location, "generate", "one",
            shape, batch, newTokens.ToString(CultureInfo.InvariantCulture), "--json", "--precision", precision])
        { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (psi.FileName.EndsWith("PeftSharp.Bench", StringComparison.Ordinal)) psi.ArgumentList.RemoveAt(0);
        return Parse(psi, "PeftSharp");
    }

    private static Result PythonGenerating(string pySh, string shape, string batch, string precision, int newTokens) =>
        Parse(PythonProcess(pySh, "bench_generate.py", ["--shape", shape, "--batch", batch, "--precision", precision, "--new", newTokens.ToString(CultureInfo.InvariantCulture)]), "Python");

    /// <summary>A script of bench/python run through the reference stack with its native kernels, as many threads as ours.</summary>
    private static ProcessStartInfo PythonProcess(string pySh, string script, string[] arguments)
    {
        var psi = new ProcessStartInfo("bash", [pySh, Path.Combine(AppContext.BaseDirectory, "python", script), .. arguments])
        { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment["REFSTACK_ISA"] = "native";
        psi.Environment["REFSTACK_DETERMINISTIC"] = "0";
        psi.Environment["REFSTACK_THREADS"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        return psi;
    }

    private static Result Python(string pySh, string shape, string method, string precision, int steps)
    {
        return Parse(PythonProcess(pySh, "bench_train.py", ["--shape", shape, "--method", method, "--precision", precision,
            "--steps", steps.ToString(CultureInfo.InvariantCulture)]), "Python");
    }

    private static Result Parse(ProcessStartInfo psi, string who)
    {
        using var child = Process.Start(psi)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (child.ExitCode != 0 || last is null)
        {
            var why = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? $"exit {child.ExitCode}";
            return new Result(double.NaN, double.NaN, $"{who} failed: {why.Trim()}");
        }
        var json = JsonNode.Parse(last)!;
        return new Result(json["median_s"]!.GetValue<double>(), json["peak_rss_gib"]!.GetValue<double>(), null);
    }

    private static string? Value(string[] args, string flag) => Array.IndexOf(args, flag) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    /// <summary>Where the reference stack's py.sh is, and whether its chroot is built.</summary>
    private static class Refstack
    {
        public static string Missing { get; private set; } = "";

        public static string? Find()
        {
            var candidates = new List<string>();
            if (Environment.GetEnvironmentVariable("REFSTACK_PY") is { Length: > 0 } env) candidates.Add(env);
            for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir != null; dir = dir.Parent)
                candidates.Add(Path.Combine(dir.FullName, "shared", "refstack", "py.sh"));
            var pySh = candidates.FirstOrDefault(File.Exists);
            if (pySh is null) { Missing = "no shared/refstack/py.sh beside the checkout (REFSTACK_PY names another)"; return null; }
            var home = Environment.GetEnvironmentVariable("REFSTACK_HOME") is { Length: > 0 } h ? h
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "refstack");
            if (!File.Exists(Path.Combine(home, "trixie", "usr", "bin", "python3"))) { Missing = $"the reference stack is not built at {home} (refstack/build.sh)"; return null; }
            return Path.GetFullPath(pySh);
        }
    }
}

/// <summary>The CPU this runs on and what it offers for bfloat16, from /proc/cpuinfo.</summary>
public static class Machine
{
    public static string Describe()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path)) return $"{Environment.ProcessorCount} cores (no /proc/cpuinfo)";
        var lines = File.ReadLines(path).ToList();
        var model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var flags = (lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1] ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var has = new[] { "avx2", "avx512f", "avx512_bf16", "amx_bf16" }.Where(flags.Contains).ToList();
        return $"{model}, {Environment.ProcessorCount} cores, {(has.Count == 0 ? "no AVX2" : string.Join(" ", has))}";
    }
}
