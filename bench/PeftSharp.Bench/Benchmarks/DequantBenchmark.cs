using System.Diagnostics;
using System.Globalization;
using PeftSharp.Models.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Benchmarks;

/// <summary>
/// Ways to turn packed 4-bit codes back into float32 on the CPU with tensor ops, on a 5632 x 2048 weight (TinyLlama's
/// MLP), against the float matmul of one such layer for 256 tokens: what a 4-bit layer pays per call. Medians of 7.
/// <code>dotnet run -c Release --project bench/PeftSharp.Bench -- dequant</code>
/// </summary>
public static class DequantBenchmark
{
    private static Tensor Nibbles(Tensor table16, Tensor packed)
    {
        var high = packed.bitwise_right_shift(4L);
        var low = packed.bitwise_and(15L);
        var idx = torch.stack(new[] { high, low }, 1).reshape(-1).to(ScalarType.Int64);
        return table16.take(idx);
    }

    public static int Run(string[] args)
    {
        set_num_threads(Environment.ProcessorCount);
        manual_seed(0);
        using var w = randn(5632, 2048).mul(0.02);
        using var state = FourBitQuantizer.Quantize(w, FourBitType.Nf4, 64, doubleQuant: false);
        using var x = randn(256, 2048);
        using var x1 = randn(1, 2048);
        using var x4 = randn(4, 2048);
        using var scratch = empty(5632, 2048);
        using var x8 = randn(8, 2048);
        var code = FourBitCodes.Table(FourBitType.Nf4);
        using var table16 = tensor(code);
        var pairs = new float[512];
        for (int b = 0; b < 256; b++) (pairs[2 * b], pairs[2 * b + 1]) = (code[b >> 4], code[b & 15]);
        using var table256 = tensor(pairs, [256, 2]);
        using var reference = FourBitQuantizer.Dequantize(state);
        var packed = state.Packed.reshape(-1);
        var scales = state.Absmax;

        var cases = new List<(string Name, Func<Tensor> Make)>
        {
            ("FourBitQuantizer.Dequantize (the kernel on CPU)", () => FourBitQuantizer.Dequantize(state)),
            ("pair table, index_select int32", () => table256.index_select(0, packed.to(ScalarType.Int32)).view(-1, 64).mul(scales.view(-1, 1)).view(5632, 2048)),
            ("pair table, index_select int64", () => table256.index_select(0, packed.to(ScalarType.Int64)).view(-1, 64).mul(scales.view(-1, 1)).view(5632, 2048)),
            ("nibbles, take on 16", () => Nibbles(table16, packed).view(-1, 64).mul(scales.view(-1, 1)).view(5632, 2048)),
            ("pair table then scaled [blocks, 32, 2]", () => table256.index_select(0, packed.to(ScalarType.Int32)).view(-1, 64).mul_(scales.view(-1, 1)).view(5632, 2048)),
            ("FourBitKernels.Dequantize", () => FourBitKernels.Dequantize(state, state.Absmax)),
            ("FourBitKernels.DequantizeInto a reused buffer", () => { FourBitKernels.DequantizeInto(state, state.Absmax, scratch); return scratch.alias(); }),
            ("float matmul 256 x 2048 x 5632", () => x.matmul(w.t())),
            ("FourBitKernels.MatVec 1 x 2048 x 5632", () => FourBitKernels.MatVec(state, state.Absmax, x1, null)),
            ("FourBitKernels.MatVec 4 x 2048 x 5632", () => FourBitKernels.MatVec(state, state.Absmax, x4, null)),
            ("FourBitKernels.MatVec 8 x 2048 x 5632", () => FourBitKernels.MatVec(state, state.Absmax, x8, null)),
            ("dequantize + matmul 8 x 2048 x 5632", () => x8.matmul(FourBitQuantizer.Dequantize(state).t())),
            ("float matvec 1 x 2048 x 5632", () => x1.matmul(w.t())),
        };
        Console.WriteLine("| dequantization of 5632 x 2048 | median ms | equal to Dequantize |");
        Console.WriteLine("|---|---:|---|");
        foreach (var (name, make) in cases)
        {
            var times = new List<double>();
            bool? equal = null;
            for (int i = 0; i < 8; i++)
            {
                using var scope = NewDisposeScope();
                var sw = Stopwatch.StartNew();
                var r = make();
                times.Add(sw.Elapsed.TotalMilliseconds);
                if (i == 0 && r.shape.SequenceEqual(reference.shape)) equal = r.eq(reference).all().item<bool>();
            }
            times.RemoveAt(0);
            times.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {times[times.Count / 2]:F1} | {(equal is null ? "-" : equal.Value ? "yes" : "NO")} |"));
        }
        return 0;
    }
}
