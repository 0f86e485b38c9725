using PeftSharp.Data;
using PeftSharp.Tokenization;
using PeftSharp.Tests.Tokenization;

namespace PeftSharp.Tests.Data;

/// <summary>The product's default training data, loaded the way `peft train` will load it.</summary>
public class UciSentimentTests
{
    [Fact]
    public void LoadsSplitsAndTokenizesTheBundledData()
    {
        var log = DataIssueLog.Strict();
        var records = DataFileReader.ReadAll(DataFiles.Uci, log);
        Assert.Equal(3000, records.Count);
        Assert.True(DatasetSplit.HasSplitColumn(records));
        var split = DatasetSplit.ByColumn(records, log);
        Assert.Equal((2400, 600, 0), (split.Train.Count, split.Validation.Count, split.Other.Count));
        Assert.Equal(1200, split.Train.Count(r => r["label"]!.GetValue<int>() == 1));
        Assert.Equal(300, split.Validation.Count(r => r["label"]!.GetValue<int>() == 1));

        var labels = LabelMap.FromRecords(split.Train);
        Assert.Equal("0=0, 1=1", labels.ToString());
        var task = new ClassificationTask(AutoTokenizer.FromFolder(TokenizerTestData.MiniLmFolder), labels) { MaxLength = 64 };
        var train = task.Tokenize(split.Train, log);
        var validation = task.Tokenize(split.Validation, log);
        Assert.Equal((2400, 600), (train.Count, validation.Count));
        Assert.All(train, e => Assert.InRange(e.InputIds.Length, 3, 64));
        Assert.Equal(0, log.SkippedCount);

        var loader = new DataLoader(train, Collator.For(AutoTokenizer.FromFolder(TokenizerTestData.MiniLmFolder)), batchSize: 32, seed: 0);
        Assert.Equal(75, loader.BatchesPerEpoch);
        var batch = loader.Next();
        Assert.Equal(32, batch.Size);
        Assert.All(Enumerable.Range(0, 32), r => Assert.Equal(101, batch.InputIds[r * batch.SequenceLength]));
    }
}
