namespace PeftSharp.Training;

/// <summary>
/// Dynamic loss scaling for float16 training, as torch.cuda.amp.GradScaler: float16's 5-bit exponent flushes gradients
/// below about 6e-8 to zero, so the loss is multiplied by <see cref="Scale"/> before backward and the gradients divided
/// by it (in float32, on the optimizer's masters) before the update. A step whose gradients overflow (inf or NaN) is
/// skipped and the scale halved; after <see cref="GrowthInterval"/> good steps in a row it doubles. Defaults are
/// GradScaler's: 2^16, x0.5, x2, 2000. Its state travels in the checkpoints (<see cref="Optimizer.StateTensors"/>), so a
/// resumed run scales as the uninterrupted one.
/// </summary>
public sealed class LossScaler
{
    public const double InitialScale = 65536;
    public const int GrowthInterval = 2000;

    /// <summary>The factor the loss is multiplied by now.</summary>
    public double Scale { get; private set; } = InitialScale;

    /// <summary>Good steps in a row since the last change of scale.</summary>
    public int GoodSteps { get; private set; }

    /// <summary>Steps skipped because their gradients overflowed, over the run so far.</summary>
    public int Skipped { get; private set; }

    /// <summary>The gradients overflowed: the step is skipped and the scale halved.</summary>
    public void Overflowed()
    {
        Scale = Math.Max(1, Scale / 2);
        GoodSteps = 0;
        Skipped++;
    }

    /// <summary>A step was taken: after GrowthInterval of them in a row the scale doubles.</summary>
    public void Stepped()
    {
        if (++GoodSteps < GrowthInterval) return;
        Scale *= 2;
        GoodSteps = 0;
    }

    /// <summary>Puts back a checkpoint's state.</summary>
    public void Restore(double scale, int goodSteps, int skipped)
    {
        if (!(scale >= 1) || !double.IsFinite(scale) || goodSteps < 0 || skipped < 0)
            throw new PeftException($"loss scaler state (scale {scale}, good steps {goodSteps}, skipped {skipped}) is not valid");
        (Scale, GoodSteps, Skipped) = (scale, goodSteps, skipped);
    }
}
