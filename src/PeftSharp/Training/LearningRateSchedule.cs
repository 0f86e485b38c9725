namespace PeftSharp.Training;

/// <summary>
/// Learning-rate multiplier per optimizer step: linear warm-up, then constant, linear decay to zero, or
/// half a cosine to zero (transformers' get_*_schedule_with_warmup). A pure function of the step, so a
/// checkpoint needs only the step count to resume it.
/// </summary>
public sealed record LearningRateSchedule(string Kind, int WarmupSteps, int TotalSteps)
{
    public static readonly IReadOnlyList<string> Kinds = ["constant", "linear", "cosine"];

    public double Factor(int step)
    {
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            "constant" => 1.0,
            "linear" => Math.Max(0.0, 1.0 - progress),
            "cosine" => Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * progress))),
            _ => throw new PeftException($"scheduler \"{Kind}\" is not one of {string.Join(", ", Kinds)}"),
        };
    }
}
