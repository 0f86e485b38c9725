namespace PeftSharp.Data;

/// <summary>
/// Where a <see cref="DataLoader"/> is: the epoch and the index of a batch within it. Two integers are enough to
/// resume exactly, because each epoch's order is a pure function of (seed, epoch); a checkpoint stores this.
/// </summary>
public readonly record struct LoaderPosition(int Epoch, int Batch)
{
    /// <summary>The position after this one, moving to the next epoch after its last batch.</summary>
    public LoaderPosition Next(int batchesPerEpoch) =>
        Batch + 1 >= batchesPerEpoch ? new LoaderPosition(Epoch + 1, 0) : this with { Batch = Batch + 1 };

    public override string ToString() => $"epoch {Epoch}, batch {Batch}";
}
