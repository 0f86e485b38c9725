using PeftSharp.Data;

namespace PeftSharp.Tests.Data;

public class DataLoaderTests
{
    private static readonly TokenizedExample[] Examples = Enumerable.Range(0, 23)
        .Select(i => new TokenizedExample { InputIds = Enumerable.Repeat(100 + i, 1 + i % 4).ToArray(), ClassLabel = i % 2, Source = "d", Line = i + 1 })
        .ToArray();

    private static DataLoader Loader(long seed = 5, LoaderPosition start = default, bool dropLast = false) =>
        new(Examples, new Collator(0), batchSize: 4, seed, dropLast: dropLast, start: start);

    private static string Key(Batch b) => string.Join(",", b.InputIds) + "|" + string.Join(",", b.Labels);

    [Fact]
    public void TheSameSeedGivesTheSameBatches()
    {
        var a = Loader().Epoch(0).Select(Key).ToList();
        Assert.Equal(a, Loader().Epoch(0).Select(Key).ToList());
        Assert.NotEqual(a, Loader(seed: 6).Epoch(0).Select(Key).ToList());
        Assert.Equal(6, a.Count);
    }

    [Fact]
    public void EachEpochVisitsEveryExampleOnceInItsOwnOrder()
    {
        var loader = Loader();
        var first = loader.Order(0).ToArray();
        var second = loader.Order(1).ToArray();
        Assert.Equal(Enumerable.Range(0, 23), first.Order());
        Assert.Equal(Enumerable.Range(0, 23), second.Order());
        Assert.NotEqual(first, second);
        var lines = loader.Epoch(1).SelectMany(b => b.Origins).ToList();
        Assert.Equal(second.Select(i => $"d:{i + 1}"), lines);
        Assert.Equal(Enumerable.Range(0, 23), new DataLoader(Examples, new Collator(0), 4, 5, shuffle: false).Order(3));
    }

    [Fact]
    public void ResumingFromAPositionGivesExactlyTheBatchesThatWouldHaveCome()
    {
        var uninterrupted = Loader();
        var all = Enumerable.Range(0, 15).Select(_ => uninterrupted.Next()).ToList();

        var interrupted = Loader();
        for (int i = 0; i < 8; i++) interrupted.Next();
        var saved = interrupted.Position;
        Assert.Equal(new LoaderPosition(1, 2), saved);
        Assert.Equal(saved, all[7].Position.Next(interrupted.BatchesPerEpoch));

        var resumed = Loader(start: saved);
        Assert.Equal(all.Skip(8).Select(Key), Enumerable.Range(0, 7).Select(_ => Key(resumed.Next())));

        var skipped = Loader();
        skipped.Skip(8);
        Assert.Equal(saved, skipped.Position);
        Assert.Equal(Key(all[8]), Key(skipped.Next()));
        Assert.Equal(all[8].Position, new LoaderPosition(1, 2));
    }

    [Fact]
    public void RestOfEpochStopsAtTheEpochEnd()
    {
        var loader = Loader(start: new LoaderPosition(2, 4));
        var rest = loader.RestOfEpoch().ToList();
        Assert.Equal(2, rest.Count);
        Assert.Equal(3, rest[^1].Size); // 23 = 5 × 4 + 3
        Assert.Equal(new LoaderPosition(3, 0), loader.Position);
    }

    [Fact]
    public void DropLastDropsOnlyThePartialBatchAndPositionsAreChecked()
    {
        var loader = Loader(dropLast: true);
        Assert.Equal(5, loader.BatchesPerEpoch);
        Assert.All(loader.Epoch(0), b => Assert.Equal(4, b.Size));
        Assert.Throws<PeftException>(() => Loader(start: new LoaderPosition(0, 6)));
        Assert.Throws<PeftException>(() => new DataLoader([], new Collator(0), 4, 1));
    }
}
