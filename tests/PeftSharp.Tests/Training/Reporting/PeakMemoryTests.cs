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

    [Fact]
    public void Reads_this_process_on_linux()
    {
        var (current, peak) = PeakMemory.Read();
        if (!OperatingSystem.IsLinux())
        {
            Assert.True(double.IsNaN(current));
            return;
        }
        Assert.InRange(current, 0.001, 64);
        Assert.True(peak >= current - 1e-6, $"peak {peak} < current {current}");
    }
}
