using System.Reflection;

namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// The <c>version:</c> field of our signatures. It names PeftSharp rather than sacreBLEU's version so a reader can
/// tell which implementation produced a score, even though the numbers are meant to be identical.
/// </summary>
public static class MetricsVersion
{
    public static string Value { get; } = "peftsharp-" + LibraryVersion();

    private static string LibraryVersion()
    {
        var asm = typeof(MetricsVersion).Assembly;
        string? v = asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        v ??= asm.GetName().Version?.ToString(3) ?? "0.0.0";
        int plus = v.IndexOf('+', StringComparison.Ordinal);
        return plus >= 0 ? v[..plus] : v;
    }
}
