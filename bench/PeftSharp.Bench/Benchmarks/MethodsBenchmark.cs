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
/// <code>dotnet run -c Release --project bench/PeftSharp.Bench -- methods [--seeds N] [--only head,lora,...] [--threads N]</code>
/// Runs go to artifacts/methods/&lt;method&gt;-seed&lt;s&gt; (a finished one is reused; delete the folder to rerun it).
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

    public static int Run(string[] args)
    {
        int seeds = Flag(args, "--seeds") is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : 1;
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
        var rows = Rows.Where(r => only is null || only.Contains(r.Name)).ToList();
        var results = new List<(string Name, string Lr, List<Result> Runs)>();
        foreach (var (name, lr, extra) in rows)
        {
            var runs = new List<Result>();
            for (int seed = 1; seed <= seeds; seed++)
            {
                var dir = Path.Combine(repo, "artifacts", "methods", $"{name}-seed{seed}");
                if (!File.Exists(Path.Combine(dir, "report.md")))
                {
                    if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                    Console.Error.WriteLine($"[methods {DateTime.Now:HH:mm:ss}] {name}, seed {seed}");
                    var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                    foreach (var a in (string[])[peft, "train", .. extra, "--learning-rate", lr, "--seed", seed.ToString(CultureInfo.InvariantCulture), "--output", dir, "--frozen-baseline", "false",
                        .. (threads is null ? Array.Empty<string>() : ["--threads", threads])])
                        psi.ArgumentList.Add(a);
                    using var child = Process.Start(psi)!;
                    var stdout = child.StandardOutput.ReadToEndAsync();
                    var stderr = child.StandardError.ReadToEnd();
                    child.WaitForExit();
                    if (child.ExitCode != 0)
                    {
                        Console.Error.WriteLine($"{name}, seed {seed}: peft train exited {child.ExitCode}: {stderr.Trim().Split('\n').LastOrDefault()}");
                        continue;
                    }
                    _ = stdout.Result;
                }
                runs.Add(Read(dir));
            }
            results.Add((name, lr, runs));
        }

        Console.WriteLine("| method | learning rate | trainable parameters | validation accuracy | training time |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var (name, lr, runs) in results)
        {
            if (runs.Count == 0) { Console.WriteLine($"| {name} | {lr} | - | failed | - |"); continue; }
            var acc = runs.Select(r => r.Accuracy * 100).ToList();
            string accuracy = runs.Count == 1 ? $"{acc[0]:F1}%" : $"{acc.Average():F1}% ({acc.Min():F1}-{acc.Max():F1})";
            var seconds = runs.Select(r => r.Seconds).Order().ToList();
            Console.WriteLine($"| {name} | {lr} | {runs[0].Trainable} | {accuracy} | {seconds[seconds.Count / 2]:F0} s |");
        }
        Console.WriteLine($"bundled MiniLM sentiment run (peft train defaults: 3 epochs, batch 16, max_length 64, mean pooling), {seeds} seed(s) each "
            + $"(accuracy: mean and range; time: median); {threads ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)} thread(s) per run; runs in artifacts/methods");
        return 0;
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
