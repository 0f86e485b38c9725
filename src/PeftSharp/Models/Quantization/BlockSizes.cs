namespace PeftSharp.Models.Quantization;

/// <summary>
/// The block sizes bitsandbytes accepts for 4-bit quantization (quantize_4bit / dequantize_4bit refuse any other):
/// the powers of two 32 ... 4096. 64 is its default; the nested absmax uses 256.
/// </summary>
public static class BlockSizes
{
    public const int Default = 64;
    public const int Nested = 256;
    public const int Min = 32;
    public const int Max = 4096;

    public static bool IsAllowed(long blockSize) => blockSize is >= Min and <= Max && (blockSize & (blockSize - 1)) == 0;

    public static string AllowedText => "32, 64, 128, 256, 512, 1024, 2048 or 4096";

    /// <summary>ceil(n / blockSize): the last block is shorter when blockSize does not divide n.</summary>
    public static long BlockCount(long n, long blockSize) => (n + blockSize - 1) / blockSize;
}
