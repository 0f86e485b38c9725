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
}
