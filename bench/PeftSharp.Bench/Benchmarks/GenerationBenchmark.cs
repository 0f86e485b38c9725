using System.Diagnostics;
using PeftSharp.Generation;
using PeftSharp.Models;
using static TorchSharp.torch;
using Generator = PeftSharp.Generation.Generator;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// Greedy generation speed with and without the KV cache, on the llama test fixture (2 layers x 64) by default
/// or on any model folder given as the first argument: tokens per second over 64 new tokens after a 12-token prompt.
/// </summary>
public static class GenerationBenchmark
{
    public static int Run(string[] args)
    {
        var dir = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "tests", "PeftSharp.Tests", "TestData", "fixtures", "llama");
        int newTokens = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 64;
        set_num_threads(Environment.ProcessorCount);
        using var model = AutoModel.FromPretrained(dir);
        long[] prompt = [97, 925, 49, 564, 543, 747, 35, 741, 322, 678, 319, 419];
        Console.WriteLine($"| {model.ArchitectureName} ({Path.GetFileName(Path.GetFullPath(dir))}), greedy, {prompt.Length}-token prompt, {newTokens} new tokens | median s | tokens/s |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var cache in new[] { true, false })
        {
            var options = new GenerationOptions { MaxNewTokens = newTokens, UseCache = cache };
            var times = new List<double>();
            for (int i = 0; i < 7; i++)
            {
                var sw = Stopwatch.StartNew();
                Generator.Generate(model, [prompt], options);
                if (i >= 2) times.Add(sw.Elapsed.TotalSeconds);
            }
            times.Sort();
            double median = times[times.Count / 2];
            Console.WriteLine($"| {(cache ? "with KV cache" : "without cache (full recompute)")} | {median:F3} | {newTokens / median:F0} |");
        }
        return 0;
    }
}
