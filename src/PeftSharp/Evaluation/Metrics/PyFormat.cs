using System.Globalization;
using System.Numerics;

namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Python's <c>f"{x:.Nf}"</c>: the exact binary value rounded half-to-even. .NET's "F2" rounds ties away from zero,
/// so a score that is exactly 12.125 would print differently from sacreBLEU without this.
/// </summary>
public static class PyFormat
{
    public static string Fixed(double x, int digits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(digits);
        if (double.IsNaN(x)) return "nan";
        if (double.IsInfinity(x)) return x > 0 ? "inf" : "-inf";
        bool negative = double.IsNegative(x);
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent = 1; else mantissa |= 1L << 52;
        exponent -= 1075; // |x| = mantissa * 2^exponent exactly

        BigInteger numerator = mantissa * BigInteger.Pow(10, digits);
        BigInteger denominator = BigInteger.One;
        if (exponent > 0) numerator <<= exponent; else denominator <<= -exponent;
        var quotient = BigInteger.DivRem(numerator, denominator, out var remainder);
        int half = (remainder * 2).CompareTo(denominator);
        if (half > 0 || (half == 0 && !quotient.IsEven)) quotient += 1;

        string s = quotient.ToString(CultureInfo.InvariantCulture).PadLeft(digits + 1, '0');
        string text = digits == 0 ? s : s[..^digits] + "." + s[^digits..];
        return negative ? "-" + text : text;
    }
}
