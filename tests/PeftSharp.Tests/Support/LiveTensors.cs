using TorchSharp;

namespace PeftSharp.Tests.Support;

/// <summary>Native tensors alive on this thread: the measure for "every loop runs inside a dispose scope".</summary>
public static class LiveTensors
{
    public static long Count => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
}
