using PeftSharp.Training.Reporting;

namespace PeftSharp.Tests.Training.Reporting;

public class PeakMemoryTests
{
    [Fact]
    public void Parses_vmrss_and_vmhwm()
    {
        var (current, peak) = PeakMemory.Parse("Name:\tdotnet\nVmPeak:\t 9999999 kB\nVmHWM:\t 2097152 kB\nVmRSS:\t 1048576 kB\n");
        Assert.Equal(1.0, current);
        Assert.Equal(2.0, peak);
        var (c2, p2) = PeakMemory.Parse("Name: x\n");
        Assert.True(double.IsNaN(c2) && double.IsNaN(p2));
    }

    /// <summary>Reads /proc/self/status, which only Linux has: elsewhere the test is reported as skipped.</summary>
    [SkippableFact]
    public void Reads_this_process_on_linux()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "not Linux: there is no /proc/self/status to read");
        var (current, peak) = PeakMemory.Read();
        Assert.InRange(current, 0.001, 64);
        Assert.True(peak >= current - 1e-6, $"peak {peak} < current {current}");
    }

    [SkippableFact]
    public void Reads_nan_off_linux()
    {
        Skip.If(OperatingSystem.IsLinux(), "Linux: PeakMemory reads real numbers here (the test above)");
        var (current, peak) = PeakMemory.Read();
        Assert.True(double.IsNaN(current) && double.IsNaN(peak), $"{current}, {peak}");
    }
}
