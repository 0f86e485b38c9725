using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using PeftSharp.Generation;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using TorchSharp;
using static TorchSharp.torch;
using Generator = PeftSharp.Generation.Generator;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// Greedy generation speed with and without the KV cache, on the llama test fixture (2 layers x 64) by default
/// or on any model folder given as the first argument: tokens per second over 64 new tokens after a 12-token prompt.
/// <c>generate one SHAPE BATCH NEW [--precision fp32|bf16] [--json]</c> times one GPT-2-shaped row as
/// <c>bench/python/bench_generate.py</c> does with transformers (the protocol is in its doc string), for
/// <see cref="SideBySideBenchmark"/>.
/// </summary>
public static class GenerationBenchmark
{
    private const int PromptLength = 32;
    private const int Runs = 3;

    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "one") return One(args[1..]);
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

    /// <summary>One row: a random GPT-2 of the shape, a [batch, 32] random prompt, greedy with the KV cache, exactly NEW tokens.</summary>
    private static int One(string[] args)
    {
        string shape = args[0];
        int batch = int.Parse(args[1], CultureInfo.InvariantCulture), newTokens = int.Parse(args[2], CultureInfo.InvariantCulture);
        string precision = Array.IndexOf(args, "--precision") is var pi and >= 0 ? args[pi + 1] : "fp32";
        set_num_threads(Environment.ProcessorCount);
        var parts = shape.Split('x');
        int layers = int.Parse(parts[0], CultureInfo.InvariantCulture), width = int.Parse(parts[1], CultureInfo.InvariantCulture);
        manual_seed(0);
        using var model = ModelRegistry.Create(JsonConfig.Parse(
            $$"""{"model_type":"gpt2","vocab_size":50257,"n_embd":{{width}},"n_layer":{{layers}},"n_head":{{width / 64}},"n_positions":1024}""", shape));
        var (dtype, _) = Precision.Resolve(precision, CPU);
        if (dtype != ScalarType.Float32) model.to(dtype);
        model.eval();
        manual_seed(1);
        using var ids = randint(0, 50257, [batch, PromptLength], dtype: ScalarType.Int64);
        var options = new GenerationOptions { MaxNewTokens = newTokens, UseCache = true };
        var times = new List<double>();
        long[][] produced = [];
        for (int i = 0; i < Runs + 1; i++)
        {
            var sw = Stopwatch.StartNew();
            produced = Generator.Generate(model, ids, null, options);
            if (i >= 1) times.Add(sw.Elapsed.TotalSeconds);
        }
        if (produced.Any(p => p.Length != newTokens)) throw new InvalidOperationException("a row stopped early");
        double median = times.Order().ElementAt(times.Count / 2);
        if (args.Contains("--json"))
        {
            Console.WriteLine(new JsonObject
            {
                ["tool"] = "peftsharp", ["shape"] = shape, ["batch"] = batch, ["new_tokens"] = newTokens, ["precision"] = precision,
                ["median_s"] = median, ["times_s"] = new JsonArray(times.Select(t => (JsonNode)t).ToArray()),
                ["tokens_per_s"] = batch * newTokens / median, ["peak_rss_gib"] = PeakMemory.PeakGiB(),
                ["first_tokens"] = new JsonArray(produced[0].Take(8).Select(t => (JsonNode)t).ToArray()),
            }.ToJsonString());
            return 0;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| gpt2 {shape} | batch {batch} | {precision} | {median:F2} s | {batch * newTokens / median:F0} tok/s | {PeakMemory.PeakGiB():F2} GiB |"));
        return 0;
    }
}
