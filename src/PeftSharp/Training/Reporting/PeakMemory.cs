using System.Globalization;

namespace PeftSharp.Training.Reporting;

/// <summary>
/// The process's resident memory, now and at its peak, from Linux's /proc/self/status (VmRSS, VmHWM). RSS rather than
/// the GC heap because tensors live in libtorch's native memory, which the GC never sees; peak because the question a
/// user has is "will this fit on my machine". NaN where /proc is not there (macOS, Windows).
/// </summary>
public static class PeakMemory
{
    private const string StatusFile = "/proc/self/status";
    private const double BytesPerGiB = 1024.0 * 1024 * 1024;

    /// <summary>Resident memory now, in GiB (NaN when unknown).</summary>
    public static double CurrentGiB() => Read().CurrentGiB;

    /// <summary>The most resident memory this process has had (since start or the last <see cref="ResetPeak"/>), in GiB.</summary>
    public static double PeakGiB() => Read().PeakGiB;

    public static (double CurrentGiB, double PeakGiB) Read()
    {
        try
        {
            return File.Exists(StatusFile) ? Parse(File.ReadAllText(StatusFile)) : (double.NaN, double.NaN);
        }
        catch (IOException)
        {
            return (double.NaN, double.NaN);
        }
        catch (UnauthorizedAccessException)
        {
            return (double.NaN, double.NaN);
        }
    }

    /// <summary>
    /// Starts the peak afresh (Linux: writing 5 to /proc/self/clear_refs), so that one process can measure several
    /// runs, e.g. the LoRA run and the full fine-tuning baseline. False where that is not possible.
    /// </summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    /// <summary>VmRSS and VmHWM of a /proc/PID/status text ("VmHWM:   123456 kB"), in GiB; NaN for a missing field.</summary>
    public static (double CurrentGiB, double PeakGiB) Parse(string status)
    {
        double current = double.NaN, peak = double.NaN;
        foreach (var line in status.Split('\n'))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) current = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kilobytes(line);
        }
        return (current, peak);
    }

    private static double Kilobytes(string line)
    {
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb)
            ? kb * 1024 / BytesPerGiB
            : double.NaN;
    }
}
