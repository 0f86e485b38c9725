using System.Text;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Combination;

/// <summary>
/// DARE's random drop without a global generator: entry i of the tensor named by a stream key is kept when
/// u(seed, key, i) &lt; density, with u a SplitMix64 hash mapped to [0, 1). Counter-based, so the mask depends on
/// nothing but the seed, the key and the position: not on thread counts, libtorch's generator or its vectorised
/// Bernoulli kernel, and the same seed gives the same file on any machine.
/// </summary>
public static class SeededMask
{
    /// <summary>A 0/1 mask shaped like <paramref name="like"/> (its dtype and device).</summary>
    public static Tensor Bernoulli(Tensor like, double density, ulong seed, string key)
    {
        long n = like.numel();
        var keep = new float[n];
        ulong stream = Mix(seed ^ Fnv1a(key));
        for (long i = 0; i < n; i++)
            keep[i] = Uniform(Mix(stream + (ulong)(i + 1) * 0x9E3779B97F4A7C15UL)) < density ? 1f : 0f;
        return tensor(keep, like.shape).to(like.dtype, like.device);
    }

    /// <summary>The top 53 bits of a hash as a double in [0, 1).</summary>
    private static double Uniform(ulong bits) => (bits >> 11) * (1.0 / (1UL << 53));

    /// <summary>SplitMix64's finaliser (Steele, Lea and Flood 2014).</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>FNV-1a over the key's UTF-8 bytes: a string hash that is the same in every process (string.GetHashCode is not).</summary>
    private static ulong Fnv1a(string key)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (byte b in Encoding.UTF8.GetBytes(key)) h = (h ^ b) * 0x100000001B3UL;
        return h;
    }
}
