using System.Buffers.Binary;
using PeftSharp.Tests.IO;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;

namespace PeftSharp.Tests.Training.Reporting;

public class LossPlotTests
{
    /// <summary>Checks the PNG signature and that IHDR is the first chunk; returns its width and height.</summary>
    private static (int Width, int Height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{bytes.Length} bytes is too small for a plot");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    /// <summary>A loss that falls with noise, and evaluations every 50 steps with rising accuracy.</summary>
    internal static (List<StepRecord>, List<EvalRecord>) Run(int steps, int evalEvery = 50)
    {
        var random = new Random(1);
        var log = Enumerable.Range(1, steps).Select(s => new StepRecord(s, s / 100, 0.3 + 0.9 * Math.Exp(-s / 80.0) + 0.15 * random.NextDouble(),
            2e-4, 1.0, 256L * s, 900 + s % 7, s * 0.2)).ToList();
        var evals = Enumerable.Range(1, steps / evalEvery).Select(i => i * evalEvery).Select(s => new EvalRecord(s, s / 100,
            new Dictionary<string, double> { ["loss"] = 0.35 + 0.8 * Math.Exp(-s / 90.0), ["accuracy"] = 0.9 - 0.4 * Math.Exp(-s / 70.0), ["f1"] = 0.5 }, s * 0.2)).ToList();
        return (log, evals);
    }

    [Fact]
    public void Writes_a_png_of_the_requested_size()
    {
        using var dir = new TempDir();
        var (steps, evals) = Run(400);
        var path = dir.File("loss.png");
        LossPlot.Save(path, steps, evals, "accuracy");
        Assert.Equal((LossPlot.DefaultWidth, LossPlot.DefaultHeight), PngSize(path));
        LossPlot.Save(path, steps, evals, null, width: 640, height: 360); // overwrites in place
        Assert.Equal((640, 360), PngSize(path));
        Assert.Equal(["loss.png"], Directory.GetFiles(dir.Path).Select(Path.GetFileName)); // no temp file left behind
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(1, true)]
    [InlineData(0, true)]
    public void Works_with_almost_no_data(int stepCount, bool withEval)
    {
        using var dir = new TempDir();
        var steps = Enumerable.Range(1, stepCount).Select(s => new StepRecord(s, 0, 2.0 / s, 1e-4, null, 10, 10, 1)).ToList();
        var evals = withEval ? new List<EvalRecord> { new(1, 0, new Dictionary<string, double> { ["loss"] = 1.0, ["accuracy"] = 0.5 }, 1) } : [];
        var path = dir.File("sub/loss.png");
        LossPlot.Save(path, steps, evals, "accuracy");
        Assert.Equal((LossPlot.DefaultWidth, LossPlot.DefaultHeight), PngSize(path));
    }

    [Fact]
    public void Diverged_steps_and_unknown_metrics_do_not_break_it()
    {
        using var dir = new TempDir();
        var (steps, evals) = Run(100);
        steps[50] = steps[50] with { Loss = double.NaN };
        steps[60] = steps[60] with { Loss = double.PositiveInfinity };
        LossPlot.Save(dir.File("loss.png"), steps, evals, "bleu");
        Assert.Equal((LossPlot.DefaultWidth, LossPlot.DefaultHeight), PngSize(dir.File("loss.png")));
    }

    [Fact]
    public void The_smoothed_loss_starts_at_the_first_value()
    {
        var ema = LossPlot.Ema([2.0, 2.0, 2.0, 0.0], 0.9);
        Assert.Equal(2.0, ema[0], 12);
        Assert.Equal(2.0, ema[2], 12);
        Assert.InRange(ema[3], 1.0, 2.0);
    }

    [Fact]
    public void SkiaSharp_is_the_version_whose_native_library_ships()
    {
        // TorchSharp asks for SkiaSharp 2.88, ScottPlot for 3.x: the managed and native versions must agree or drawing fails at run time.
        var managed = typeof(SkiaSharp.SKBitmap).Assembly.GetName().Version!;
        Assert.Equal(3, managed.Major);
        Assert.Equal(SkiaSharp.SkiaSharpVersion.NativeMinimum.Major, SkiaSharp.SkiaSharpVersion.Native.Major);
        using var bitmap = new SkiaSharp.SKBitmap(4, 4); // loads libSkiaSharp.so
        Assert.Equal(4, bitmap.Width);
    }
}
