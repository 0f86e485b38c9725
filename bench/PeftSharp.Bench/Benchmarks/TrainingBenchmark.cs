using System.Diagnostics;
using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// Training throughput and peak memory on GPT-2-shaped models with random weights (vocab 50257, batch 4 x 256,
/// AdamW, causal-LM loss): LoRA r=8 alpha=16 on c_attn and on all linear layers, and full fine-tuning, at
/// 12 layers x 768 and 4 layers x 256, through the trainer's own step (TrainingStep: the loss computed in slices). Each configuration runs in a fresh child process, so peak RSS is its own.
/// For Python PEFT on the same shapes, side by side: the <c>sidebyside</c> benchmark (<see cref="SideBySideBenchmark"/>).
/// </summary>
public static class TrainingBenchmark
{
    private static readonly (string Shape, int Layers, int Width, int Heads)[] Shapes = [("12x768", 12, 768, 12), ("4x256", 4, 256, 4)];
    private static readonly string[] Methods = ["lora c_attn", "lora all-linear", "full"];

    public static int Run(string[] args)
    {
        int steps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;
        bool lowMemory = args.Contains("--low-memory");
        bool checkpointing = args.Contains("--checkpointing");
        bool json = args.Contains("--json");
        int pi = Array.IndexOf(args, "--precision");
        string precision = pi >= 0 ? args[pi + 1] : "fp32";
        if (pi >= 0) args = [.. args[..pi], .. args[(pi + 2)..]];
        var flags = args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Concat(precision == "fp32" ? [] : ["--precision", precision]).ToArray();
        args = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        if (args.Length > 2) return One(args[1], args[2], steps, lowMemory, checkpointing, json, precision);

        Console.WriteLine("| model | method | trainable | median s/step | tokens/s | peak RSS GiB |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        foreach (var (shape, _, _, _) in Shapes)
            foreach (var method in Methods)
            {
                var psi = new ProcessStartInfo(Environment.ProcessPath!, [typeof(TrainingBenchmark).Assembly.Location, "train", steps.ToString(System.Globalization.CultureInfo.InvariantCulture), shape, method, .. flags])
                {
                    RedirectStandardOutput = true,
                    UseShellExecute = false,
                };
                if (psi.FileName.EndsWith("PeftSharp.Bench", StringComparison.Ordinal)) psi.ArgumentList.RemoveAt(0);
                using var child = Process.Start(psi)!;
                Console.WriteLine(child.StandardOutput.ReadToEnd().Trim());
                child.WaitForExit();
            }
        Console.WriteLine($"{steps} measured steps after 2 warm-up steps; batch 4 x 256; {Environment.ProcessorCount} threads" + (lowMemory ? "; low_memory (large blocks returned to the system)" : "") + (checkpointing ? "; gradient checkpointing" : ""));
        return 0;
    }

    private static int One(string shapeName, string method, int steps, bool lowMemory, bool checkpointing, bool json, string precision)
    {
        set_num_threads(Environment.ProcessorCount);
        if (lowMemory) PeftSharp.Native.Allocator.ReturnLargeBlocksToSystem();
        manual_seed(0);
        var (shape, layers, width, heads) = Shapes.Single(s => s.Shape == shapeName);
        using var model = ModelRegistry.Create(JsonConfig.Parse(
            $$"""{"model_type":"gpt2","vocab_size":50257,"n_embd":{{width}},"n_layer":{{layers}},"n_head":{{heads}},"n_positions":1024,"resid_pdrop":0.0,"embd_pdrop":0.0,"attn_pdrop":0.0}""", shape));
        model.train();
        List<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable;
        PeftModel? peft = null;
        if (method == "full")
        {
            trainable = model.named_parameters().ToList();
        }
        else
        {
            var config = LoraConfig.Read(new JsonConfig(new JsonObject
            {
                ["peft_type"] = "LORA", ["r"] = 8, ["lora_alpha"] = 16, ["task_type"] = "CAUSAL_LM",
                ["target_modules"] = method == "lora c_attn" ? new JsonArray("c_attn") : "all-linear",
            }, "bench"));
            peft = PeftModel.Create(model, config);
            trainable = peft.TrainableNamedParameters().ToList();
        }
        // Mixed precision as the trainer does it (TrainingRun): float32 masters, then the model in bf16.
        var (dtype, _) = Precision.Resolve(precision, CPU);
        Dictionary<string, Tensor>? masters = null;
        if (dtype != ScalarType.Float32)
        {
            masters = trainable.ToDictionary(p => p.Name, p => (Tensor)p.Parameter.detach().to(ScalarType.Float32, copy: true));
            model.to(dtype);
            trainable = peft?.TrainableNamedParameters().ToList() ?? model.named_parameters().ToList();
        }
        using var optimizer = new AdamW(ParamGroups.Standard(model, trainable, 1e-4, 0.01));
        if (masters != null) optimizer.UseMasterWeights(masters);
        using var ids = randint(0, 50257, [4, 256], dtype: ScalarType.Int64);
        var times = new List<double>();
        for (int i = 0; i < steps + 2; i++)
        {
            var sw = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                TrainingStep.ForwardBackward(model, TaskKind.CausalLm, new BatchTensors(new ModelInputs { InputIds = ids }, ids), 1.0, checkpointLayers: checkpointing);
                optimizer.Step();
                optimizer.ZeroGrad();
            }
            if (i >= 2) times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        double median = times[times.Count / 2];
        long count = trainable.Sum(p => p.Parameter.numel());
        if (json)
        {
            Console.WriteLine(new JsonObject
            {
                ["tool"] = "peftsharp", ["shape"] = shape, ["method"] = method, ["precision"] = precision, ["median_s"] = median,
                ["times_s"] = new JsonArray(times.Select(t => (JsonNode)t).ToArray()), ["peak_rss_gib"] = PeakMemory.PeakGiB(), ["trainable"] = count,
            }.ToJsonString());
            return 0;
        }
        Console.WriteLine($"| gpt2 {shape} | {method}{(precision == "fp32" ? "" : ", " + precision)}{(lowMemory ? ", low memory" : "")}{(checkpointing ? ", checkpointing" : "")} | {count:N0} | {median:F2} | {4 * 256 / median:F0} | {PeakMemory.PeakGiB():F2} |");
        return 0;
    }
}
