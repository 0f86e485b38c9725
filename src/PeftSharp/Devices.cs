using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp;

/// <summary>
/// Turns a user's device string into a torch device, checking that the TorchSharp build can use it.
/// Nothing in PeftSharp assumes the CPU: a project that references a CUDA TorchSharp package passes "cuda".
/// </summary>
public static class Devices
{
    public static Device Parse(string? name)
    {
        if (string.IsNullOrWhiteSpace(name) || name == "cpu") return CPU;
        Device device;
        try { device = torch.device(name); }
        catch (Exception e) when (e is ArgumentException or FormatException) { throw new PeftException($"device \"{name}\" is not a device name (try cpu, cuda or cuda:1)"); }
        if (device.type == DeviceType.CUDA && !cuda.is_available())
            throw new PeftException($"device \"{name}\": CUDA is not available in this TorchSharp build (reference a TorchSharp CUDA package and run on a machine with a GPU)");
        return device;
    }

    /// <summary>float32 / bfloat16 / float16 / float64 by their usual names.</summary>
    public static ScalarType ParseDType(string? name) => (name ?? "float32").ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => ScalarType.Float16,
        "float64" or "fp64" or "f64" or "double" => ScalarType.Float64,
        _ => throw new PeftException($"dtype \"{name}\" is not supported (float32, bfloat16, float16, float64)"),
    };
}
