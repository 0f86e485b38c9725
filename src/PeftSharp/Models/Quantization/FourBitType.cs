namespace PeftSharp.Models.Quantization;

/// <summary>
/// The two 4-bit data types of bitsandbytes: NF4 (NormalFloat, QLoRA's quantiles of N(0, 1)) and FP4
/// (1 sign, 2 exponent, 1 mantissa bit). Written in files as "nf4" / "fp4" (quant_type, and the key suffix
/// quant_state.bitsandbytes__nf4).
/// </summary>
public enum FourBitType
{
    Nf4,
    Fp4,
}

/// <summary>The names bitsandbytes writes for <see cref="FourBitType"/>.</summary>
public static class FourBitTypes
{
    public static string Name(FourBitType type) => type switch
    {
        FourBitType.Nf4 => "nf4",
        FourBitType.Fp4 => "fp4",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a 4-bit type"),
    };

    public static bool TryParse(string? name, out FourBitType type)
    {
        switch (name)
        {
            case "nf4": type = FourBitType.Nf4; return true;
            case "fp4": type = FourBitType.Fp4; return true;
            default: type = default; return false;
        }
    }
}
