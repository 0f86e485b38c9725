using PeftSharp.Data;

namespace PeftSharp.Tests.Data;

public class DatasetSplitTests
{
    private static readonly int[] Items = Enumerable.Range(0, 103).ToArray();

    [Fact]
    public void TheSameSeedGivesTheSameSplitAndAnotherSeedAnother()
    {
        var a = DatasetSplit.TrainValidation(Items, 0.2, seed: 7);
        var b = DatasetSplit.TrainValidation(Items, 0.2, seed: 7);
        var c = DatasetSplit.TrainValidation(Items, 0.2, seed: 8);
        Assert.Equal(a.Validation, b.Validation);
        Assert.NotEqual(a.Validation, c.Validation);
        Assert.Equal(21, a.Validation.Count); // ceil(103 × 0.2)
        Assert.Equal(82, a.Train.Count);
        Assert.Equal(Items, a.Train.Concat(a.Validation).Order());
        Assert.Equal(a.Validation.Order(), a.Validation); // input order is kept
    }

    [Fact]
    public void TheSplitIsPinnedForAGivenSeed()
    {
        // Guards the generator: a change here would silently move every user's validation set.
        var split = DatasetSplit.TrainValidation(Enumerable.Range(0, 10).ToArray(), 0.3, seed: 42);
        Assert.Equal(split.Validation, DatasetSplit.TrainValidation(Enumerable.Range(0, 10).ToArray(), 0.3, seed: 42).Validation);
        Assert.Equal(3, split.Validation.Count);
        Assert.Equal([2, 8, 9], split.Validation);
    }

    [Fact]
    public void StratificationKeepsEachGroupsShare()
    {
        var items = Enumerable.Range(0, 100).Select(i => (Id: i, Label: i < 80 ? "a" : "b")).ToArray();
        var split = DatasetSplit.TrainValidation(items, 0.25, seed: 1, stratifyBy: x => x.Label);
        Assert.Equal(20, split.Validation.Count(x => x.Label == "a"));
        Assert.Equal(5, split.Validation.Count(x => x.Label == "b"));
    }

    [Fact]
    public void BadFractionsAreUserErrors()
    {
        Assert.Throws<PeftException>(() => DatasetSplit.TrainValidation(Items, 0, 1));
        Assert.Throws<PeftException>(() => DatasetSplit.TrainValidation(Items, 1, 1));
        Assert.Throws<PeftException>(() => DatasetSplit.TrainValidation(Items, double.NaN, 1));
    }

    [Fact]
    public void ASplitColumnIsHonouredAndOtherValuesAreKeptApart()
    {
        var records = DataFiles.Records("s.jsonl", """{"split": "train"}""", """{"split": "Validation"}""", """{"split": "dev"}""",
            """{"split": "test"}""", """{"x": 1}""", """{"split": "train"}""");
        var log = new DataIssueLog();
        Assert.True(DatasetSplit.HasSplitColumn(records));
        var split = DatasetSplit.ByColumn(records, log);
        Assert.Equal([1L, 6L], split.Train.Select(r => r.Line));
        Assert.Equal([2L, 3L], split.Validation.Select(r => r.Line));
        Assert.Equal([4L], split.Other.Select(r => r.Line));
        Assert.Equal("s.jsonl:5: missing field \"split\"", log.Issues.Single().ToString());
        Assert.Equal("2 train, 2 validation, 1 in other splits", split.ToString());
    }
}
