using System.Globalization;

namespace PeftSharp;

/// <summary>
/// How numbers read in everything PeftSharp prints (progress lines, summaries, reports, help): counts with thousands
/// separators, small or huge values in short scientific notation (<c>3.3e-4</c>, not <c>3.30E-004</c> or 0.00033), the
/// rest as short decimals, always in the invariant culture so a log reads the same on every machine.
/// </summary>
public static class NumberText
{
    /// <summary>A count: 12,345.</summary>
    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A learning rate or any value best read by its magnitude: 3.3e-4, 2e-4, 1e-8 (two significant digits).</summary>
    public static string Scientific(double x) =>
        x == 0 ? "0" : !double.IsFinite(x) ? x.ToString(CultureInfo.InvariantCulture) : x.ToString("0.#e-0", CultureInfo.InvariantCulture);

    /// <summary>A setting's value: scientific below 0.001 or from a million on, otherwise as short as it is exact (0.05, 16).</summary>
    public static string Value(double x)
    {
        double a = Math.Abs(x);
        if (a != 0 && double.IsFinite(x) && (a < 1e-3 || a >= 1e6)) return x.ToString("0.###e-0", CultureInfo.InvariantCulture);
        return x.ToString("R", CultureInfo.InvariantCulture);
    }
}
