namespace PeftSharp.Models.Quantization;

/// <summary>
/// The 16-value code tables of bitsandbytes' 4-bit types, index = the 4-bit value stored in a nibble
/// (bitsandbytes/functional.py get_4bit_type). Dequantized value = code[index] * block scale.
/// Checked bit for bit against the fixture's codes.safetensors.
/// </summary>
public static class FourBitCodes
{
    /// <summary>
    /// NF4: bitsandbytes hard-codes these float32 values (create_normal_map(offset=0.9677083)); already sorted
    /// ascending, so the sorted position is the index.
    /// </summary>
    private static readonly float[] Nf4Table =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>
    /// FP4 in bit-pattern order (sign bit = 8): 0, 0.0625, 8, 12, 4, 6, 2, 3 and their negatives, divided by the largest
    /// magnitude 12 in float32, as get_4bit_type does (data.div_(data.abs().max())). Index 8 is +0, not -0: bitsandbytes
    /// writes it as the Python int -0, which is 0, so both zeros dequantize to +0.
    /// </summary>
    private static readonly float[] Fp4Table = BuildFp4();

    private static float[] BuildFp4()
    {
        float[] magnitudes = [0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f];
        var table = new float[16];
        for (int i = 0; i < 8; i++)
        {
            table[i] = magnitudes[i] / 12f;
            table[i + 8] = i == 0 ? 0f : -magnitudes[i] / 12f;
        }
        return table;
    }

    /// <summary>A copy of the table for a type, index = 4-bit value.</summary>
    public static float[] Table(FourBitType type) => (float[])TableRef(type).Clone();

    internal static float[] TableRef(FourBitType type) => type switch
    {
        FourBitType.Nf4 => Nf4Table,
        FourBitType.Fp4 => Fp4Table,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a 4-bit type"),
    };
}
