using PeftSharp.IO;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>Forward pass of GPT-2- and Llama-shaped models with random weights (no download needed).</summary>
public static class ForwardBenchmark
{
    public static int Run(string[] args)
    {
        set_num_threads(Environment.ProcessorCount);
        var rows = new List<(string Model, string Shape, double Ms, double TokensPerSecond)>();
        foreach (var (name, json, seq) in Models())
        {
            using var model = ModelRegistry.Create(JsonConfig.Parse(json, name));
            model.eval();
            using var ids = randint(0, 1000, [1, seq], dtype: ScalarType.Int64);
            double ms = Timing.MedianMilliseconds(() =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                model.forward(new ModelInputs { InputIds = ids });
            });
            rows.Add((name, $"1 x {seq}", ms, seq / (ms / 1000)));
        }
        Console.WriteLine("| model | batch x seq | median ms | tokens/s |");
        Console.WriteLine("|---|---|---:|---:|");
        foreach (var r in rows) Console.WriteLine($"| {r.Model} | {r.Shape} | {r.Ms:F1} | {r.TokensPerSecond:F0} |");
        Console.WriteLine($"peak RSS {PeftSharp.Training.Reporting.PeakMemory.PeakGiB():F2} GiB, {get_num_threads()} threads");
        return 0;
    }

    private static IEnumerable<(string, string, int)> Models()
    {
        yield return ("gpt2 12x768", """{"model_type":"gpt2","vocab_size":50257,"n_embd":768,"n_layer":12,"n_head":12,"n_positions":1024}""", 256);
        yield return ("llama 4x256 gqa", """{"model_type":"llama","vocab_size":32000,"hidden_size":256,"intermediate_size":688,"num_hidden_layers":4,"num_attention_heads":8,"num_key_value_heads":2}""", 256);
    }
}
