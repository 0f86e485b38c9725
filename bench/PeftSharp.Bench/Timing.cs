using System.Diagnostics;

namespace PeftSharp.Bench;

/// <summary>Warm-up then repeated runs; reports the median, which resists a noisy shared machine better than the mean.</summary>
public static class Timing
{
    public static double MedianMilliseconds(Action action, int warmup = 2, int runs = 7)
    {
        for (int i = 0; i < warmup; i++) action();
        var times = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Peak resident set size of this process so far, from /proc (Linux).</summary>
    public static double PeakRssGiB()
    {
        if (!File.Exists("/proc/self/status")) return double.NaN;
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        if (line == null) return double.NaN;
        var kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        return kb / 1024.0 / 1024.0;
    }
}
