using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// How to hold a base model in 4 bits, as transformers' BitsAndBytesConfig(load_in_4bit=True) says it:
/// bnb_4bit_quant_type (<see cref="Type"/>), bnb_4bit_use_double_quant (<see cref="DoubleQuant"/>) and
/// bnb_4bit_compute_dtype (<see cref="ComputeDType"/>; float32 by default, as bitsandbytes; bfloat16 is faster on a CPU
/// with native bf16). The block size is bitsandbytes' 64 for the weights and 256 for the nested absmax.
/// </summary>
public sealed record QuantizationConfig(FourBitType Type = FourBitType.Nf4, bool DoubleQuant = false, ScalarType ComputeDType = ScalarType.Float32)
{
    public int BlockSize { get; init; } = BlockSizes.Default;

    /// <summary>"nf4 with double quantization, compute float32".</summary>
    public override string ToString() =>
        $"{FourBitTypes.Name(Type)}{(DoubleQuant ? " with double quantization" : "")}, compute {ComputeDType.ToString().ToLowerInvariant()}";

    /// <summary>From the options' words: none (null), nf4 or fp4; a compute dtype by its usual name.</summary>
    public static QuantizationConfig? From(string? quantize, bool doubleQuant, string? computeDType)
    {
        if (string.IsNullOrEmpty(quantize) || quantize == "none")
            return doubleQuant ? throw new PeftException("double_quant quantizes the 4-bit scales, and quantize is none; set quantize nf4 or fp4") : null;
        if (!FourBitTypes.TryParse(quantize, out var type)) throw new PeftException($"quantize must be none, nf4 or fp4, not \"{quantize}\"");
        var dtype = Devices.ParseDType(computeDType);
        if (dtype == ScalarType.Float64) throw new PeftException("compute_dtype float64 is not a 4-bit compute dtype (float32, bfloat16, float16)");
        return new QuantizationConfig(type, doubleQuant, dtype);
    }
}
