using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// Forward cost of unmerged LoRA against the same model merged, on a GPT-2-small-shaped model (12 x 768,
/// random weights) at batch 1 x 256 with LoRA on every linear layer. The target: at most 5% overhead.
/// Runs alternate so machine noise hits both sides alike.
/// </summary>
public static class LoraOverheadBenchmark
{
    public static int Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;
        set_num_threads(Environment.ProcessorCount);
        manual_seed(0);
        using var model = ModelRegistry.Create(JsonConfig.Parse("""{"model_type":"gpt2","vocab_size":50257,"n_embd":768,"n_layer":12,"n_head":12,"n_positions":1024}""", "gpt2-small"));
        model.eval();
        var config = LoraConfig.Read(new JsonConfig(new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 8, ["lora_alpha"] = 16, ["target_modules"] = "all-linear", ["init_lora_weights"] = false,
        }, "bench"));
        var peft = PeftModel.Create(model, config);
        using var ids = randint(0, 50257, [1, 256], dtype: ScalarType.Int64);
        void Forward()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            model.forward(new ModelInputs { InputIds = ids });
        }

        var unmerged = new List<double>();
        var merged = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            unmerged.Add(Timing.MedianMilliseconds(Forward, warmup: 1, runs: 3));
            peft.MergeAdapter();
            merged.Add(Timing.MedianMilliseconds(Forward, warmup: 1, runs: 3));
            peft.UnmergeAdapter();
        }
        double u = Median(unmerged), m = Median(merged);
        Console.WriteLine("| GPT-2 12x768, batch 1x256, LoRA r=8 on all linear layers | median ms |");
        Console.WriteLine("|---|---:|");
        Console.WriteLine($"| merged (plain weights) | {m:F1} |");
        Console.WriteLine($"| unmerged LoRA | {u:F1} |");
        Console.WriteLine($"| overhead | {100 * (u / m - 1):F1}% |");
        Console.WriteLine($"{peft.TrainableParameters()}; {rounds} alternating rounds; {get_num_threads()} threads");
        return 0;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s[s.Count / 2];
    }
}
