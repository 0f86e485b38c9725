using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// The README's method table: the bundled MiniLM sentiment run (what `peft train` with no arguments does: real
/// all-MiniLM-L6-v2, UCI sentences, mean pooling, 3 epochs, batch 16) trained by each method with the learning rate
/// given in <see cref="Rows"/>, every run a fresh `peft train` process exactly as a user types it, for each seed.
/// Prints validation accuracy (mean and range over seeds), trainable parameters and training time.
/// <code>dotnet run -c Release --project bench/PeftSharp.Bench -- methods [--seeds N] [--first-seed K] [--only head,lora,...] [--threads N] [--jobs N]</code>
/// Runs go to artifacts/methods/&lt;method&gt;-seed&lt;s&gt; (a finished one is reused; delete the folder to rerun it).
/// <c>targets</c> is issue 13's table on the same run: which parameters to train at the default run's budget (LoRA r=8 on
/// query and value, 73,728 parameters): the default targets, all linear layers at the rank that fits, automatic targets by
/// each estimator of one <c>peft analyze</c> per seed (artifacts/targets/analysis-seed&lt;s&gt;), AdaLoRA ending at the
/// same rank budget, BitFit and LN tuning. <c>--jobs N</c> runs N processes at once (give each <c>--threads</c> 1 on a small machine).
/// </summary>
public static partial class MethodsBenchmark
{
    /// <summary>
    /// Each method's learning rate. LoRA, the head and the adapter layers use the default run's 1e-3; prompt
    /// learning moves raw embeddings (or a whole prefix) from scratch and, as PEFT's own examples do, gets a larger
    /// one: 3e-2 for prompt tuning, 1e-2 for prefix tuning; P-tuning's encoder trains at 1e-3 as in PEFT's example.
    /// </summary>
    private static readonly (string Name, string Lr, string[] Args)[] Rows =
    [
        ("head", "1e-3", ["--method", "head"]),
        ("lora", "1e-3", ["--method", "lora"]),
        ("ia3", "1e-3", ["--method", "ia3"]),
        ("prompt-tuning", "3e-2", ["--method", "prompt-tuning"]),
        ("prefix-tuning", "1e-2", ["--method", "prefix-tuning"]),
        ("p-tuning", "1e-3", ["--method", "p-tuning"]),
        ("bottleneck", "1e-3", ["--method", "bottleneck"]),
    ];

    /// <summary>Issue 13's rows: the same budget spent differently ({seed} and {analysis} are filled per run).</summary>
    private static readonly (string Name, string Lr, string[] Args)[] TargetRows =
    [
        ("lora query,value r=8 (default)", "1e-3", ["--method", "lora"]),
        ("lora all-linear r=1", "1e-3", ["--method", "lora", "--target-modules", "all-linear", "--rank", "1", "--alpha", "2"]),
        ("auto sensitivity", "1e-3", ["--target-modules", "auto", "--trainable-budget", "73728", "--target-estimator", "sensitivity", "--analysis", "{analysis}"]),
        ("auto fisher", "1e-3", ["--target-modules", "auto", "--trainable-budget", "73728", "--target-estimator", "fisher", "--analysis", "{analysis}"]),
        ("auto lora-drop", "1e-3", ["--target-modules", "auto", "--trainable-budget", "73728", "--target-estimator", "lora-drop", "--analysis", "{analysis}"]),
        ("auto kappa", "1e-3", ["--target-modules", "auto", "--trainable-budget", "73728", "--target-estimator", "kappa", "--analysis", "{analysis}"]),
        ("adalora query,value 12 -> 8", "1e-3", ["--method", "adalora", "--init-r", "12", "--target-r", "8", "--tinit", "45", "--tfinal", "90", "--delta-t", "10"]),
        ("bitfit", "1e-3", ["--method", "bitfit"]),
        ("ln-tuning", "1e-3", ["--method", "ln-tuning"]),
    ];

    public static int Targets(string[] args) => Run(args, "targets", TargetRows);

    public static int Run(string[] args) => Run(args, "methods", Rows);

    private static int Run(string[] args, string table, (string Name, string Lr, string[] Args)[] allRows)
    {
        int seeds = Flag(args, "--seeds") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 1;
        // Seeds first..seeds: another checkout can run the later seeds at the same time (copy its run folders in after).
        int first = Flag(args, "--first-seed") is { } f ? int.Parse(f, CultureInfo.InvariantCulture) : 1;
        // Threads per run (default: the tool's, every core); fewer leave room for other work, and all rows share it.
        var threads = Flag(args, "--threads");
        var only = Flag(args, "--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var repo = FindRepo();
        var peft = Path.Combine(repo, "src", "PeftSharp.Cli", "bin", "Release", "net10.0", "peft.dll");
        if (!File.Exists(peft))
        {
            Console.Error.WriteLine($"build the tool first: dotnet build src/PeftSharp.Cli -c Release ({peft} not found)");
            return 2;
        }
        int jobs = Flag(args, "--jobs") is { } j ? int.Parse(j, CultureInfo.InvariantCulture) : 1;
        var rows = allRows.Where(r => only is null || only.Contains(r.Name)).ToList();
        string[] ThreadArgs() => threads is null ? [] : ["--threads", threads];
        string Folder(string name, int seed) => Path.Combine(repo, "artifacts", table, $"{Regex.Replace(name, "[^A-Za-z0-9.=-]+", "_")}-seed{seed}");

        // One analysis per seed for the automatic rows, on exactly the default run's data, split, pooling and length, made
        // when the first row of that seed needs it (runs go seed by seed, so a cut-short session still has whole seeds).
        var analysisLocks = Enumerable.Range(0, seeds + 1).Select(_ => new object()).ToArray();
        string Analysis(int seed)
        {
            var dir = Path.Combine(repo, "artifacts", table, $"analysis-seed{seed}");
            lock (analysisLocks[seed])
            {
                if (File.Exists(Path.Combine(dir, "analysis.json"))) return dir;
                Console.Error.WriteLine($"[{table} {DateTime.Now:HH:mm:ss}] analysis, seed {seed}");
                Peft(peft, ["analyze", "--model", DefaultModelDir(), "--data", Path.Combine(Path.GetDirectoryName(peft)!, "data", "uci-sentiment", "uci-sentiment.jsonl"),
                    "--pooling", "mean", "--max-length", "64", "--seed", seed.ToString(CultureInfo.InvariantCulture), "--out", dir, .. ThreadArgs()], $"analysis, seed {seed}");
                return dir;
            }
        }

        var work = Enumerable.Range(first, seeds - first + 1).SelectMany(seed => rows.Select(r => (Row: r, Seed: seed))).ToList();
        Parallel.ForEach(Partitioner.Create(work, EnumerablePartitionerOptions.NoBuffering), new ParallelOptions { MaxDegreeOfParallelism = jobs }, w =>
        {
            var (name, lr, extra) = w.Row;
            var dir = Folder(name, w.Seed);
            if (File.Exists(Path.Combine(dir, "report.md"))) return;
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            var filled = extra.Select(a => a == "{analysis}" ? Analysis(w.Seed) : a).ToArray();
            Console.Error.WriteLine($"[{table} {DateTime.Now:HH:mm:ss}] {name}, seed {w.Seed}");
            Peft(peft, ["train", .. filled, "--learning-rate", lr, "--seed", w.Seed.ToString(CultureInfo.InvariantCulture), "--output", dir, "--frozen-baseline", "false", .. ThreadArgs()],
                $"{name}, seed {w.Seed}");
        });
        var results = rows.Select(r => (r.Name, r.Lr, Runs: Enumerable.Range(1, seeds).Select(seed => Folder(r.Name, seed))
            .Where(d => File.Exists(Path.Combine(d, "report.md"))).Select(Read).ToList())).ToList();

        Console.WriteLine("| method | learning rate | trainable parameters | validation accuracy | training time |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var (name, lr, runs) in results)
        {
            if (runs.Count == 0) { Console.WriteLine($"| {name} | {lr} | - | failed | - |"); continue; }
            var acc = runs.Select(r => r.Accuracy * 100).ToList();
            string accuracy = runs.Count == 1 ? $"{acc[0]:F1}%" : $"{acc.Average():F1}% ({acc.Min():F1}-{acc.Max():F1}, sd {StandardDeviation(acc):F1})";
            var seconds = runs.Select(r => r.Seconds).Order().ToList();
            Console.WriteLine($"| {name} | {lr} | {runs[0].Trainable} | {accuracy} | {seconds[seconds.Count / 2]:F0} s |");
        }
        Console.WriteLine($"bundled MiniLM sentiment run (peft train defaults: 3 epochs, batch 16, max_length 64, mean pooling), {seeds} seed(s) each "
            + $"(accuracy: mean, range and standard deviation; time: median); {threads ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)} thread(s) per run, "
        + $"{jobs} run(s) at a time; runs in artifacts/{table}");
        return 0;
    }

    private static double StandardDeviation(IReadOnlyList<double> x) => x.Count < 2 ? 0 : Math.Sqrt(x.Sum(v => (v - x.Average()) * (v - x.Average())) / (x.Count - 1));

    /// <summary>Where the default run keeps the imported MiniLM (the tool imports it on its first default run).</summary>
    private static string DefaultModelDir()
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache)) cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var dir = Path.Combine(cache, "peftsharp", "models", "all-MiniLM-L6-v2");
        return File.Exists(Path.Combine(dir, "model.safetensors")) ? dir : throw new InvalidOperationException($"{dir}: run `peft train --max-steps 1` once to import the bundled model");
    }

    /// <summary>Runs the tool as a user would, a fresh process; a failure is reported and the table shows the row as failed.</summary>
    private static void Peft(string peft, string[] arguments, string what)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(peft);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEnd();
        child.WaitForExit();
        _ = stdout.Result;
        if (child.ExitCode != 0) Console.Error.WriteLine($"{what}: peft exited {child.ExitCode}: {stderr.Trim().Split('\n').LastOrDefault()}");
    }

    private sealed record Result(double Accuracy, string Trainable, double Seconds);

    /// <summary>The run's own report and metrics: accuracy after training, trainable parameters, seconds of training.</summary>
    private static Result Read(string dir)
    {
        var report = File.ReadAllText(Path.Combine(dir, "report.md"));
        var trainable = TrainableLine().Match(report) is { Success: true } m ? $"{m.Groups[1].Value} ({m.Groups[2].Value})" : "?";
        var lines = report.Split('\n');
        var header = lines.FirstOrDefault(l => l.StartsWith("|  | loss |", StringComparison.Ordinal))?.Split('|').Select(c => c.Trim()).ToList();
        var after = lines.FirstOrDefault(l => l.StartsWith("| after training |", StringComparison.Ordinal))?.Split('|').Select(c => c.Trim()).ToList();
        int column = header?.IndexOf("accuracy") ?? -1;
        double accuracy = column > 0 && after is not null ? double.Parse(after[column], CultureInfo.InvariantCulture) : double.NaN;
        double seconds = File.ReadLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(n => (string?)n["type"] == "step").Select(n => (double)n["elapsed_seconds"]!).LastOrDefault();
        return new Result(accuracy, trainable, seconds);
    }

    [GeneratedRegex(@"\| trainable parameters \| ([\d,]+) of [\d,]+ \(([\d.]+%)\)")]
    private static partial Regex TrainableLine();

    private static string? Flag(string[] args, string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    private static string FindRepo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "PeftSharp.sln"))) return d.FullName;
        throw new InvalidOperationException("run from inside the PeftSharp checkout");
    }
}
