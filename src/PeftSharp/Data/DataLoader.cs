namespace PeftSharp.Data;

/// <summary>
/// Yields batches epoch after epoch, reshuffled every epoch with an order derived from (seed, epoch) alone, so the
/// same seed gives the same batches on every run and a trainer resumes mid-epoch by remembering only
/// <see cref="Position"/>. Batches are collated when they are taken, so memory holds one batch at a time.
/// </summary>
public sealed class DataLoader
{
    private readonly IReadOnlyList<TokenizedExample> _examples;
    private int[]? _order;
    private int _orderEpoch = -1;

    public DataLoader(IReadOnlyList<TokenizedExample> examples, Collator collator, int batchSize, long seed,
        bool shuffle = true, bool dropLast = false, LoaderPosition start = default)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(collator);
        if (batchSize <= 0) throw new PeftException($"The batch size must be positive, not {batchSize}.");
        if (examples.Count == 0) throw new PeftException("There are no examples to train on (were all records skipped as malformed?).");
        if (dropLast && examples.Count < batchSize)
            throw new PeftException($"{examples.Count} examples do not fill one batch of {batchSize}, and the last partial batch is dropped.");
        _examples = examples;
        Collator = collator;
        BatchSize = batchSize;
        Seed = seed;
        Shuffle = shuffle;
        DropLast = dropLast;
        BatchesPerEpoch = dropLast ? examples.Count / batchSize : (examples.Count + batchSize - 1) / batchSize;
        Seek(start);
    }

    public Collator Collator { get; }
    public int BatchSize { get; }
    public long Seed { get; }
    public bool Shuffle { get; }
    public bool DropLast { get; }
    public int BatchesPerEpoch { get; }
    public int ExampleCount => _examples.Count;

    /// <summary>The batch <see cref="Next"/> returns next; store it in a checkpoint and pass it back to resume.</summary>
    public LoaderPosition Position { get; private set; }

    /// <summary>Moves to a position (a resumed checkpoint's), without collating the batches in between.</summary>
    public void Seek(LoaderPosition position)
    {
        if (position.Epoch < 0 || position.Batch < 0 || position.Batch >= BatchesPerEpoch)
            throw new PeftException($"Cannot resume at {position}: an epoch has {BatchesPerEpoch} batches.");
        Position = position;
    }

    /// <summary>Skips <paramref name="batches"/> batches, across epoch ends.</summary>
    public void Skip(long batches)
    {
        if (batches < 0) throw new ArgumentOutOfRangeException(nameof(batches));
        long absolute = (long)Position.Epoch * BatchesPerEpoch + Position.Batch + batches;
        Position = new LoaderPosition(checked((int)(absolute / BatchesPerEpoch)), (int)(absolute % BatchesPerEpoch));
    }

    /// <summary>The batch at <see cref="Position"/>; advances the position.</summary>
    public Batch Next()
    {
        var batch = At(Position);
        Position = Position.Next(BatchesPerEpoch);
        return batch;
    }

    /// <summary>The rest of the current epoch from <see cref="Position"/>, advancing as it goes.</summary>
    public IEnumerable<Batch> RestOfEpoch()
    {
        int epoch = Position.Epoch;
        while (Position.Epoch == epoch) yield return Next();
    }

    /// <summary>All batches of one epoch, independent of <see cref="Position"/> (for evaluation passes).</summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        for (int b = 0; b < BatchesPerEpoch; b++) yield return At(new LoaderPosition(epoch, b));
    }

    /// <summary>The order examples are visited in during an epoch (the identity when not shuffling).</summary>
    public IReadOnlyList<int> Order(int epoch)
    {
        if (_orderEpoch != epoch || _order is null)
        {
            _order = Shuffle ? DataRandom.For(Seed, stream: 1 + (long)epoch).Permutation(_examples.Count) : Enumerable.Range(0, _examples.Count).ToArray();
            _orderEpoch = epoch;
        }
        return _order;
    }

    private Batch At(LoaderPosition position)
    {
        var order = Order(position.Epoch);
        int start = position.Batch * BatchSize;
        int count = Math.Min(BatchSize, order.Count - start);
        var examples = new TokenizedExample[count];
        for (int i = 0; i < count; i++) examples[i] = _examples[order[start + i]];
        var batch = Collator.Collate(examples);
        batch.Position = position;
        return batch;
    }
}
