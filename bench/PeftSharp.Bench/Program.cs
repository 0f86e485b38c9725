using PeftSharp.Bench.Benchmarks;

namespace PeftSharp.Bench;

/// <summary>
/// Benchmarks that print a table. Run in Release: dotnet run -c Release --project bench/PeftSharp.Bench -- NAME.
/// Timings on a shared machine are noisy: compare ratios measured within one run.
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, Func<string[], int>> Benchmarks = new()
    {
        ["forward"] = ForwardBenchmark.Run,
        ["lora-overhead"] = LoraOverheadBenchmark.Run,
        ["train"] = TrainingBenchmark.Run,
        ["generate"] = GenerationBenchmark.Run,
        ["methods"] = MethodsBenchmark.Run,
        ["targets"] = MethodsBenchmark.Targets,
        ["qlora"] = QloraBenchmark.Run,
        ["dequant"] = DequantBenchmark.Run,
        ["sidebyside"] = SideBySideBenchmark.Run,
        ["profile"] = ProfileBenchmark.Run,
        ["active-learning"] = ActiveLearningBenchmark.Run,
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Benchmarks.TryGetValue(args[0], out var run))
        {
            Console.Error.WriteLine($"usage: PeftSharp.Bench <{string.Join("|", Benchmarks.Keys)}> [options]");
            return 2;
        }
        return run(args[1..]);
    }
}
