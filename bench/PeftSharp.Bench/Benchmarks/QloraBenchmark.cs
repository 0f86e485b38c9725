using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Models.Quantization;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// Why a 4-bit base exists (issue 14): a Llama-shaped model of about 1.1 B parameters (TinyLlama's shape: 22 layers,
/// hidden 2048, intermediate 5632, 32 heads, 4 key/value heads, vocab 32000) with random weights drawn as transformers
/// initialises Llama (N(0, 0.02)), LoRA r=16 on all linear layers, batch 1 x 256, AdamW, causal-LM loss; the base in
/// float32, NF4, NF4 with double quantization, FP4, and NF4 computing in bfloat16, each also with gradient checkpointing
/// (QLoRA's recipe: PEFT's prepare_model_for_kbit_training turns it on by default), where a step keeps one layer's
/// activations instead of all 22 and the weights are most of what remains. The random model is written once as a
/// Hugging Face folder (float32 safetensors, under the temp folder) and each configuration loads it in a fresh child
/// process through AutoModel.FromPretrained, as a user would: resident memory after the model is ready, the peak while
/// loading, the peak of the training steps (reset after loading), median s/step, greedy generation tokens/s, and the
/// quantization error Σ|W − Ŵ| / Σ|W| over all quantized weights.
/// <code>dotnet run -c Release --project bench/PeftSharp.Bench -- qlora [steps] [--layers N]</code>
/// </summary>
public static class QloraBenchmark
{
    private static readonly string[] Bases =
        ["float32", "nf4", "nf4 double-quant", "fp4", "nf4 bf16-compute", "float32 checkpointed", "nf4 checkpointed", "nf4 double-quant checkpointed"];

    public static int Run(string[] args)
    {
        int steps = args.Length > 0 && int.TryParse(args[0], out var s) ? s : 3;
        int layers = Array.IndexOf(args, "--layers") is var i and >= 0 ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : 22;
        if (Array.IndexOf(args, "--one") is var o and >= 0) return One(args[o + 1], steps, layers);

        Console.WriteLine("| base | linear weights | RSS ready GiB | load peak GiB | training peak GiB | median s/step | greedy tokens/s | quantization error |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|");
        if (!File.Exists(Path.Combine(CheckpointFolder(layers), "model.safetensors"))) RunChild("write", 0, layers);
        foreach (var b in Bases) Console.WriteLine(RunChild(b, steps, layers));
        Console.WriteLine($"Llama {layers} x 2048 (intermediate 5632, 32 heads, 4 kv heads, vocab 32000), LoRA r=16 alpha 32 on all linear layers, "
            + $"batch 1 x 256, {steps} measured steps after 1 warm-up, {Environment.ProcessorCount} threads, compute dtype float32 unless the row says bf16; "
            + "greedy generation: 8 new tokens after a 16-token prompt, KV cache, the adapter unmerged");
        return 0;
    }

    private static int One(string baseName, int steps, int layers)
    {
        set_num_threads(Environment.ProcessorCount);
        PeftSharp.Native.Allocator.ReturnLargeBlocksToSystem(); // freed float weights go back to the system, so RSS shows what stays
        var dir = CheckpointFolder(layers);
        if (baseName == "write") return Write(dir, layers);
        if (!File.Exists(Path.Combine(dir, "model.safetensors"))) RunChild("write", 0, layers);
        manual_seed(0);
        QuantizationConfig? config = baseName.StartsWith("float32", StringComparison.Ordinal) ? null
            : new QuantizationConfig(baseName.StartsWith("fp4", StringComparison.Ordinal) ? FourBitType.Fp4 : FourBitType.Nf4, DoubleQuant: baseName.Contains("double", StringComparison.Ordinal),
                baseName.Contains("bf16", StringComparison.Ordinal) ? ScalarType.BFloat16 : ScalarType.Float32);
        // As a user loads it: the folder through AutoModel, quantized while loading.
        var model = AutoModel.FromPretrained(dir, quantization: config);
        string weights = config?.ToString() ?? "float32";
        double loadPeak = PeakMemory.PeakGiB();
        var lora = LoraConfig.Read(new JsonConfig(new JsonObject { ["peft_type"] = "LORA", ["r"] = 16, ["lora_alpha"] = 32, ["task_type"] = "CAUSAL_LM", ["target_modules"] = "all-linear" }, "bench"));
        var trainable = PeftModel.Create(model, lora).TrainableNamedParameters().ToList();
        using var optimizer = new PeftSharp.Training.AdamW(ParamGroups.Standard(model, trainable, 1e-4, 0.0));
        using var ids = randint(0, 32000, [1, 256], dtype: ScalarType.Int64);
        double ready = PeakMemory.CurrentGiB();
        PeakMemory.ResetPeak();
        model.train();
        var times = new List<double>();
        for (int step = 0; step < steps + 1; step++)
        {
            var sw = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                TrainingStep.ForwardBackward(model, TaskKind.CausalLm, new BatchTensors(new ModelInputs { InputIds = ids }, ids), 1.0,
                    checkpointLayers: baseName.EndsWith("checkpointed", StringComparison.Ordinal));
                optimizer.Step();
                optimizer.ZeroGrad();
            }
            if (step >= 1) times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        double trainingPeak = PeakMemory.PeakGiB();
        // Greedy generation with the KV cache through the (unmerged) adapter: a 16-token prompt, 8 new tokens, after a
        // 1-token warm-up; tokens per second of the 8 (a 4-bit step dequantizes every layer, seconds a token at 1.1 B).
        model.eval();
        var prompt = Enumerable.Range(1, 16).Select(t => (long)(t * 997 % 32000)).ToArray();
        PeftSharp.Generation.Generator.Generate(model, [prompt], new PeftSharp.Generation.GenerationOptions { MaxNewTokens = 1 });
        var clock = Stopwatch.StartNew();
        var produced = PeftSharp.Generation.Generator.Generate(model, [prompt], new PeftSharp.Generation.GenerationOptions { MaxNewTokens = 8 })[0];
        double tokensPerSecond = produced.Length / clock.Elapsed.TotalSeconds;
        double error = config is null ? double.NaN : QuantizationError(model, dir);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {baseName} | {weights} | {ready:F2} | {loadPeak:F2} | {trainingPeak:F2} | {times[times.Count / 2]:F1} | {tokensPerSecond:F2} | {(double.IsNaN(error) ? "-" : error.ToString("F4", CultureInfo.InvariantCulture))} |"));
        model.Dispose();
        return 0;
    }

    /// <summary>Σ|W − Ŵ| / Σ|W| over the quantized weights, W read back from the float checkpoint one layer at a time.</summary>
    private static double QuantizationError(PretrainedModel model, string dir)
    {
        double diff = 0, total = 0;
        using var checkpoint = PeftSharp.IO.Safetensors.CheckpointReader.OpenFolder(dir);
        foreach (var (name, layer) in ModelQuantizer.Layers(model))
        {
            using var scope = NewDisposeScope();
            var w = checkpoint.Load(name.Replace(".base_layer", "", StringComparison.Ordinal) + ".weight"); // the float layer's name before LoRA wrapped it
            diff += w.sub(layer.DequantizedWeight()).abs().to(ScalarType.Float64).sum().item<double>();
            total += w.abs().to(ScalarType.Float64).sum().item<double>();
        }
        return diff / total;
    }

    /// <summary>The random model as a Hugging Face folder, written once per layer count and reused by every row.</summary>
    private static string CheckpointFolder(int layers) => Path.Combine(Path.GetTempPath(), "peftsharp-bench", $"llama-{layers}x2048-random");

    private static int Write(string dir, int layers)
    {
        manual_seed(0);
        using var model = ModelRegistry.Create(JsonConfig.Parse($$"""
            {"model_type":"llama","architectures":["LlamaForCausalLM"],"vocab_size":32000,"hidden_size":2048,"intermediate_size":5632,
             "num_hidden_layers":{{layers}},"num_attention_heads":32,"num_key_value_heads":4,"max_position_embeddings":2048,"rms_norm_eps":1e-5,
             "tie_word_embeddings":false}
            """, "bench"));
        using (no_grad())
            foreach (var (_, p) in model.named_parameters())
                if (p.dim() == 2) p.normal_(0, 0.02);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        ModelSaver.Save(model, dir);
        Console.Error.WriteLine($"wrote the random model to {dir}");
        return 0;
    }

    private static string RunChild(string row, int steps, int layers)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!, [typeof(QloraBenchmark).Assembly.Location, "qlora", steps.ToString(CultureInfo.InvariantCulture),
            "--layers", layers.ToString(CultureInfo.InvariantCulture), "--one", row]) { RedirectStandardOutput = true, UseShellExecute = false };
        if (psi.FileName.EndsWith("PeftSharp.Bench", StringComparison.Ordinal)) psi.ArgumentList.RemoveAt(0);
        using var child = Process.Start(psi)!;
        var output = child.StandardOutput.ReadToEnd().Trim();
        child.WaitForExit();
        return output;
    }
}
