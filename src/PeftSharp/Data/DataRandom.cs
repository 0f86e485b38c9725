namespace PeftSharp.Data;

/// <summary>
/// The seeded generator behind splits and shuffles: SplitMix64 (Steele, Lea and Flood 2014), written out here because
/// System.Random's sequence for a seed is not promised to stay the same across .NET versions, and a split or a resumed
/// epoch must be reproducible for as long as a checkpoint lives (seed 0 gives E220A8397B1DCDAF, 6E789E6AA1B965F4, as
/// published). Shuffles are Fisher-Yates with unbiased bounded draws; DatasetSplitTests pins one split.
/// </summary>
internal sealed class DataRandom
{
    private ulong _state;

    public DataRandom(ulong seed) => _state = seed;

    /// <summary>A generator for one (seed, stream) pair, e.g. (seed, epoch): independent streams from one user seed.</summary>
    public static DataRandom For(long seed, long stream) => new(Mix(Mix((ulong)seed) ^ (ulong)stream));

    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, bound), by rejection so that no value is favoured.</summary>
    public int Below(int bound)
    {
        if (bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound));
        ulong b = (ulong)bound;
        ulong limit = ulong.MaxValue - ulong.MaxValue % b;
        ulong x;
        do x = Next(); while (x >= limit);
        return (int)(x % b);
    }

    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Below(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>0..count-1 in a shuffled order.</summary>
    public int[] Permutation(int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        Shuffle(order);
        return order;
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
