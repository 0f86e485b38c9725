using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>How the hand-written CPU kernels (<see cref="MatVecKernel"/>, the 4-bit ones) share out their work.</summary>
internal static class CpuRanges
{
    /// <summary>
    /// Runs body over [0, count) in contiguous ranges of at least minChunk, one to four per core (as many cores as libtorch
    /// is told to use), so a kernel competes with nothing for them.
    /// </summary>
    public static void For(long count, long minChunk, Action<long, long> body)
    {
        int workers = Math.Max(1, Math.Min(Environment.ProcessorCount, get_num_threads()));
        long chunks = Math.Clamp(count / Math.Max(1, minChunk), 1, workers * 4L);
        if (chunks == 1) { body(0, count); return; }
        long per = (count + chunks - 1) / chunks;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers }, i =>
        {
            long first = i * per, last = Math.Min(count, first + per);
            if (first < last) body(first, last);
        });
    }
}
