using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// The training precision (<c>precision</c>, <c>--precision auto|fp32|bf16|fp16</c>). fp32: everything in float32.
/// bf16 (and fp16, with dynamic loss scaling, <see cref="LossScaler"/>; fp16 is for GPUs: on a CPU libtorch emulates
/// float16 matmuls, about 80x slower than float32 on an AVX-512 EPYC, bench train): the model (frozen base and the trainable tensors' working copies) is held and computed in that dtype,
/// while the optimizer keeps a float32 master copy of every trainable tensor, converts each gradient to float32,
/// updates the master and rounds it back into the working copy (<see cref="Optimizer.UseMasterWeights"/>): small updates
/// are not lost to bf16's 8-bit mantissa, and the adapter is saved from the masters, in float32, as an fp32 run writes
/// it. What stays float32 whatever the precision: the loss (logits are cast before the cross-entropy), RMSNorm statistics
/// and rotary angles (computed in float32 by the models), and libtorch accumulates layer-norm statistics, softmax inside
/// attention and matmul sums in float32 for bf16 inputs on the CPU. auto: bf16 where the CPU has native bfloat16 (the
/// avx512_bf16 or amx_bf16 flags of /proc/cpuinfo), where bf16 matmuls run several times faster than float32; float32
/// elsewhere (an AVX2-only CPU emulates bf16 and is slower, not faster). On a GPU, auto keeps float32: whether it has
/// bf16 cannot be read here, so ask for bf16 explicitly.
/// </summary>
public static class Precision
{
    public static readonly string[] Choices = ["auto", "fp32", "bf16", "fp16"];


    /// <summary>The dtype to train in and one line saying why, for the log.</summary>
    public static (ScalarType DType, string Reason) Resolve(string precision, Device device)
    {
        ArgumentNullException.ThrowIfNull(precision);
        ArgumentNullException.ThrowIfNull(device);
        return precision switch
        {
            "fp32" => (ScalarType.Float32, "precision fp32"),
            "bf16" => (ScalarType.BFloat16, "precision bf16: base and activations in bfloat16, float32 master weights" + (device.type == DeviceType.CPU && !CpuHasNativeBf16 ? " (this CPU has no native bf16: expect it slower than fp32)" : "")),
            "fp16" => (ScalarType.Float16, "precision fp16: base and activations in float16, float32 master weights, dynamic loss scaling"
                + (device.type == DeviceType.CPU ? " (warning: libtorch's CPU kernels emulate float16 matmuls, tens of times slower than fp32; on a CPU use bf16)" : "")),
            "auto" when device.type != DeviceType.CPU => (ScalarType.Float32, $"precision auto: fp32 on {device.type} (give --precision bf16 if this GPU has bfloat16)"),
            "auto" when CpuHasNativeBf16 => (ScalarType.BFloat16, $"precision auto: bf16 (this CPU has native bfloat16: {string.Join(", ", NativeBf16Flags)}); float32 master weights"),
            "auto" => (ScalarType.Float32, "precision auto: fp32 (this CPU has no native bfloat16, avx512_bf16 or amx_bf16)"),
            _ => throw new PeftException($"precision must be one of {string.Join(", ", Choices)}, not \"{precision}\""),
        };
    }

    /// <summary>The CPU flags that give native bf16 arithmetic, as /proc/cpuinfo lists them (empty where it has none or there is no such file).</summary>
    public static IReadOnlyList<string> NativeBf16Flags { get; } = ReadFlags();

    public static bool CpuHasNativeBf16 => NativeBf16Flags.Count > 0;

    private static List<string> ReadFlags()
    {
        try
        {
            const string path = "/proc/cpuinfo";
            if (!File.Exists(path)) return [];
            var flags = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1]
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal) ?? [];
            return new[] { "avx512_bf16", "amx_bf16" }.Where(flags.Contains).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }
}
