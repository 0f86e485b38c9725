using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// Where a training step's time goes, on the <c>train</c> benchmark's GPT-2 shapes (batch 4 x 256, LoRA r=8 on c_attn
/// or all linear layers, AdamW): the step split into forward + backward and the optimizer, and forward + backward split
/// into what its big kernels cost when run alone and everything else. "Alone" replays, on random tensors of the same
/// shapes, every matmul of the frozen model (forward, and backward's input gradients; weight gradients too for the
/// layers LoRA does not freeze in "full"), the language-model head's (in the loss's slices, forward and backward;
/// <c>--slice-mb</c> sets the slice's logits size, TrainingStep's 32 MiB by default) and scaled-dot-product attention forward and backward: a lower bound on the kernels' share, since in the
/// step they also compete for caches. The rest (elementwise ops, norms, copies, LoRA's small matmuls, autograd and
/// dispatch) is what a faster implementation could remove.
/// <code>dotnet run -c Release --project bench/PeftSharp.Bench -- profile [STEPS] [--shape 12x768] [--method "lora c_attn"] [--precision fp32|bf16] [--slice-mb 32]</code>
/// </summary>
public static class ProfileBenchmark
{
    public static int Run(string[] args)
    {
        int steps = args.Length > 0 && int.TryParse(args[0], out var s) ? s : 5;
        var shape = Value(args, "--shape") ?? "12x768";
        var method = Value(args, "--method") ?? "lora c_attn";
        var precision = Value(args, "--precision") ?? "fp32";
        set_num_threads(Environment.ProcessorCount);
        int layers = int.Parse(shape.Split('x')[0], CultureInfo.InvariantCulture), width = int.Parse(shape.Split('x')[1], CultureInfo.InvariantCulture);
        var (dtype, _) = Precision.Resolve(precision, CPU);
        const int batch = 4, seq = 256, vocab = 50257;
        long sliceBytes = Value(args, "--slice-mb") is { } mb ? long.Parse(mb, CultureInfo.InvariantCulture) << 20 : TrainingStep.DefaultSliceBytes;
        int slice = (int)Math.Max(1, sliceBytes / (4L * vocab)); // as TrainingStep slices the head

        manual_seed(0);
        using var model = ModelRegistry.Create(JsonConfig.Parse(
            $$"""{"model_type":"gpt2","vocab_size":{{vocab}},"n_embd":{{width}},"n_layer":{{layers}},"n_head":{{width / 64}},"n_positions":1024,"resid_pdrop":0.0,"embd_pdrop":0.0,"attn_pdrop":0.0}""", shape));
        model.train();
        var lora = LoraConfig.Read(new JsonConfig(new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 8, ["lora_alpha"] = 16, ["task_type"] = "CAUSAL_LM",
            ["target_modules"] = method == "lora c_attn" ? new JsonArray("c_attn") : "all-linear",
        }, "bench"));
        var peft = PeftModel.Create(model, lora);
        var trainable = peft.TrainableNamedParameters().ToList();
        Dictionary<string, Tensor>? masters = null;
        if (dtype != ScalarType.Float32)
        {
            masters = trainable.ToDictionary(p => p.Name, p => (Tensor)p.Parameter.detach().to(ScalarType.Float32, copy: true));
            model.to(dtype);
            trainable = peft.TrainableNamedParameters().ToList();
        }
        using var optimizer = new AdamW(ParamGroups.Standard(model, trainable, 1e-4, 0.01));
        if (masters != null) optimizer.UseMasterWeights(masters);
        using var ids = randint(0, vocab, [batch, seq], dtype: ScalarType.Int64);

        var forwardBackward = new List<double>();
        var optimizerTimes = new List<double>();
        for (int i = 0; i < steps + 2; i++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            TrainingStep.ForwardBackward(model, TaskKind.CausalLm, new BatchTensors(new ModelInputs { InputIds = ids }, ids), 1.0, sliceBytes);
            double fb = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            optimizer.Step();
            optimizer.ZeroGrad();
            if (i >= 2) { forwardBackward.Add(fb); optimizerTimes.Add(clock.Elapsed.TotalMilliseconds); }
        }

        long tokens = batch * seq;
        var (linear, head, attention) = Kernels(layers, width, tokens, batch, seq, vocab, slice, dtype, method == "full");
        double fbMedian = Median(forwardBackward), opt = Median(optimizerTimes), step = fbMedian + opt;
        double rest = fbMedian - linear - head - attention;
        Console.WriteLine($"| gpt2 {shape}, {method}, {precision}, batch {batch} x {seq}, loss slices of {slice} positions | ms | share of the step |");
        Console.WriteLine("|---|---:|---:|");
        void Row(string what, double ms) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {what} | {ms:F0} | {100 * ms / step:F0}% |"));
        Row("whole step", step);
        Row("forward + backward", fbMedian);
        Row("  linear layers' matmuls, replayed alone", linear);
        Row("  the head's matmuls (sliced loss), replayed alone", head);
        Row("  attention (SDPA forward + backward), replayed alone", attention);
        Row("  everything else", rest);
        Row("optimizer step + zero_grad", opt);
        Console.WriteLine($"medians of {steps} steps after 2 warm-up; {get_num_threads()} threads; the replayed kernels: medians of 5 after 2 warm-up");
        return 0;
    }

    /// <summary>Milliseconds of the step's big kernels, each run alone on random tensors of its shapes.</summary>
    private static (double Linear, double Head, double Attention) Kernels(int layers, int width, long tokens, int batch, int seq, int vocab, int slice,
        ScalarType dtype, bool weightGradients)
    {
        using var scope = NewDisposeScope();
        // GPT-2's four linear layers per block, [in, out]: forward x W, backward's input gradient g Wᵀ (and g's weight gradient xᵀ g for full).
        (long In, long Out)[] shapes = [(width, 3L * width), (width, width), (width, 4L * width), (4L * width, width)];
        var prepared = shapes.Select(sh => (X: randn(tokens, sh.In, dtype: dtype), W: randn(sh.In, sh.Out, dtype: dtype), G: randn(tokens, sh.Out, dtype: dtype))).ToList();
        double linear = layers * Timing.MedianMilliseconds(() =>
        {
            using var s = NewDisposeScope();
            foreach (var (x, w, g) in prepared)
            {
                x.mm(w);
                g.mm(w.t());
                if (weightGradients) x.t().mm(g);
            }
        }, runs: 5);
        var wte = randn(vocab, width, dtype: dtype);
        long sliceRows = Math.Min(slice, tokens);
        var rows = randn(sliceRows, width, dtype: dtype);
        var gradLogits = randn(sliceRows, vocab, dtype: ScalarType.Float32);
        // ceil(tokens / slice) slices, the last counted as a full one
        double head = ((tokens + sliceRows - 1) / sliceRows) * Timing.MedianMilliseconds(() =>
        {
            using var s = NewDisposeScope();
            rows.mm(wte.t()).to(ScalarType.Float32);
            gradLogits.to(dtype).mm(wte);
        }, runs: 5);
        int heads = width / 64;
        var q = randn([batch, heads, seq, 64], dtype: dtype).requires_grad_(true);
        var k = randn([batch, heads, seq, 64], dtype: dtype).requires_grad_(true);
        var v = randn([batch, heads, seq, 64], dtype: dtype).requires_grad_(true);
        double attention = layers * Timing.MedianMilliseconds(() =>
        {
            using var s = NewDisposeScope();
            nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true).sum().backward();
        }, runs: 5);
        return (linear, head, attention);
    }

    private static double Median(List<double> values)
    {
        var v = values.Order().ToList();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    private static string? Value(string[] args, string flag) => Array.IndexOf(args, flag) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
