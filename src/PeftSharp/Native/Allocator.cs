using System.Runtime.InteropServices;

namespace PeftSharp.Native;

/// <summary>
/// glibc's allocator raises its mmap threshold as large blocks are freed, after which tensors of that size come
/// from the heap and freed memory stays resident; a training step allocates and frees hundreds of megabytes, so
/// peak RSS grows well beyond what is live. Fixing the threshold returns every large tensor to the system when
/// freed: about 20% less peak memory for some 10-20% more time per step (page faults). Process-wide, so opt-in.
/// </summary>
public static partial class Allocator
{
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD in malloc.h

    /// <summary>Makes allocations of at least thresholdBytes use their own mappings; false where not glibc/Linux.</summary>
    public static bool ReturnLargeBlocksToSystem(int thresholdBytes = 1 << 20)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(MmapThreshold, thresholdBytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
