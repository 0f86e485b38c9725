namespace PeftSharp.Tuners;

/// <summary>How much of the model trains: the number users check first after wrapping a model.</summary>
public sealed record TrainableReport(long Trainable, long All)
{
    public double Percent => All == 0 ? 0 : 100.0 * Trainable / All;

    public override string ToString() => $"trainable params: {Trainable:N0} || all params: {All:N0} || trainable%: {Percent:F4}";
}
