using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;
using PeftSharp.Data;

namespace PeftSharp.Tests.Data;

public class DataFileReaderTests
{
    [Fact]
    public void JsonLinesKeepsLineNumbersAndSkipsBlankLines()
    {
        using var dir = new TempFolder();
        var path = dir.Write("a.jsonl", "{\"text\": \"one\", \"label\": 1}\n\n   \n{\"text\": \"two\", \"label\": \"x\", \"tags\": [1, 2]}\r\n");
        var records = DataFileReader.ReadAll(path, DataIssueLog.Strict());
        Assert.Equal(2, records.Count);
        Assert.Equal([1L, 4L], records.Select(r => r.Line));
        Assert.Equal("one", records[0].GetString("text"));
        Assert.Equal(1, records[0]["label"]!.GetValue<int>());
        Assert.IsType<JsonArray>(records[1]["tags"], exactMatch: false);
        Assert.Equal($"{path}:4", records[1].Location);
    }

    [Fact]
    public void MalformedJsonLinesAreSkippedWithFileAndLineAndCounted()
    {
        using var dir = new TempFolder();
        var path = dir.Write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n[1, 2]\n{\"a\": 1, \"a\": 2}\n{\"text\": \"fine\"}\n");
        var seen = new List<string>();
        var log = new DataIssueLog(MalformedRecordPolicy.Skip, i => seen.Add(i.ToString()));
        var records = DataFileReader.ReadAll(path, log);
        Assert.Equal([1L, 5L], records.Select(r => r.Line));
        Assert.Equal(3, log.SkippedCount);
        Assert.Equal([2L, 3L, 4L], log.Issues.Select(i => i.Line));
        Assert.StartsWith($"{path}:2: invalid JSON", seen[0]);
        Assert.Equal($"{path}:3: expected a JSON object, found a list", seen[1]);
        Assert.Contains("3 malformed records skipped", log.Summary());
    }

    [Fact]
    public void FailPolicyStopsAtTheFirstMalformedRecordNamingIt()
    {
        using var dir = new TempFolder();
        var path = dir.Write("bad.jsonl", "{\"text\": \"ok\"}\nnot json\n");
        var e = Assert.Throws<PeftException>(() => DataFileReader.ReadAll(path, DataIssueLog.Strict()));
        Assert.StartsWith($"{path}:2: invalid JSON", e.Message);
    }

    [Fact]
    public void PrettyPrintedJsonIsRefusedWithAHint()
    {
        using var dir = new TempFolder();
        var path = dir.Write("data.json", "[\n  {\"text\": \"a\"}\n]\n");
        var e = Assert.Throws<PeftException>(() => DataFileReader.ReadAll(path, new DataIssueLog()));
        Assert.Contains("one complete object per line", e.Message);
    }

    [Fact]
    public void CsvHandlesQuotedCommasQuotesAndNewlinesAndCountsPhysicalLines()
    {
        using var dir = new TempFolder();
        var path = dir.Write("d.csv",
            "text,label\r\n" +
            "\"hello, world\",1\r\n" +
            "\"she said \"\"hi\"\"\",0\r\n" +
            "\"two\r\nlines\nthree\",1\r\n" +
            "\r\n" +
            "plain,0");
        var records = DataFileReader.ReadAll(path, DataIssueLog.Strict());
        Assert.Equal(["hello, world", "she said \"hi\"", "two\r\nlines\nthree", "plain"], records.Select(r => r.GetString("text")));
        Assert.Equal([2L, 3L, 4L, 8L], records.Select(r => r.Line));
        Assert.Equal("1", records[0].GetString("label"));
    }

    [Fact]
    public void MalformedCsvRowsAreReportedByLine()
    {
        using var dir = new TempFolder();
        var path = dir.Write("d.csv", "text,label\nok,1\ntoo,many,fields\n\"closed\"junk,1\nfine,0\n\"never closed,1\nlost,0\n");
        var log = new DataIssueLog();
        var records = DataFileReader.ReadAll(path, log);
        Assert.Equal([2L, 5L], records.Select(r => r.Line));
        Assert.Equal([3L, 4L, 6L], log.Issues.Select(i => i.Line));
        Assert.Contains("3 fields, but the header has 2", log.Issues[0].Reason);
        Assert.Contains("after a closing quote", log.Issues[1].Reason);
        Assert.Contains("never closed", log.Issues[2].Reason);
        var e = Assert.Throws<PeftException>(() => DataFileReader.ReadAll(path, DataIssueLog.Strict()));
        Assert.StartsWith($"{path}:3: ", e.Message);
    }

    [Fact]
    public void CsvHeaderProblemsAreFatal()
    {
        using var dir = new TempFolder();
        var dup = dir.Write("dup.csv", "text,text\na,b\n");
        Assert.Contains("more than once", Assert.Throws<PeftException>(() => DataFileReader.ReadAll(dup, new DataIssueLog())).Message);
        var empty = dir.Write("empty.csv", "");
        Assert.Contains("empty", Assert.Throws<PeftException>(() => DataFileReader.ReadAll(empty, new DataIssueLog())).Message);
    }

    [Fact]
    public async Task ParquetReadsStringIntegerBooleanAndNullableColumnsWithRowNumbers()
    {
        using var dir = new TempFolder();
        var path = dir.File("d.parquet");
        var text = new DataField<string>("text");
        var label = new DataField<int>("label");
        var flag = new DataField<bool>("flag");
        var score = new DataField<long?>("score");
        var weight = new DataField<double>("weight");
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text, label, flag, score, weight), stream))
        {
            // Two row groups, so that row numbers must carry on across them.
            foreach (var (texts, offset) in new[] { (new[] { "a", "b" }, 0), (new[] { "c" }, 2) })
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(text, texts);
                await group.WriteAsync<int>(label, new ReadOnlyMemory<int>(texts.Select((_, i) => offset + i).ToArray()));
                await group.WriteAsync<bool>(flag, new ReadOnlyMemory<bool>(texts.Select((_, i) => (offset + i) % 2 == 0).ToArray()));
                await group.WriteAsync<long>(score, new ReadOnlyMemory<long?>(texts.Select((_, i) => offset + i == 1 ? null : (long?)(10 * (offset + i))).ToArray()));
                await group.WriteAsync<double>(weight, new ReadOnlyMemory<double>(texts.Select((_, i) => 0.5 * (offset + i)).ToArray()));
            }
        }
        var records = DataFileReader.ReadAll(path, DataIssueLog.Strict());
        Assert.Equal(["a", "b", "c"], records.Select(r => r.GetString("text")));
        Assert.Equal([1L, 2L, 3L], records.Select(r => r.Line));
        Assert.Equal([0L, 1L, 2L], records.Select(r => r["label"]!.GetValue<long>()));
        Assert.Equal([true, false, true], records.Select(r => r["flag"]!.GetValue<bool>()));
        Assert.Null(records[1]["score"]);
        Assert.Equal(20L, records[2]["score"]!.GetValue<long>());
        Assert.Equal(1.0, records[2]["weight"]!.GetValue<double>());

        // A classification task reads integer labels from Parquet like JSON ones.
        var map = LabelMap.FromRecords(records);
        Assert.Equal("0=0, 1=1, 2=2", map.ToString());
    }

    [Fact]
    public void NotAParquetFileIsAUserError()
    {
        using var dir = new TempFolder();
        var path = dir.Write("fake.parquet", "this is not parquet at all");
        var e = Assert.Throws<PeftException>(() => DataFileReader.ReadAll(path, new DataIssueLog()));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void FormatComesFromTheExtensionUnlessGiven()
    {
        Assert.Equal(DataFormat.JsonLines, DataFileReader.FormatOf("a.jsonl"));
        Assert.Equal(DataFormat.JsonLines, DataFileReader.FormatOf("a.JSON"));
        Assert.Equal(DataFormat.Csv, DataFileReader.FormatOf("x/b.csv"));
        Assert.Equal(DataFormat.Parquet, DataFileReader.FormatOf("c.parquet"));
        Assert.Contains(".txt", Assert.Throws<PeftException>(() => DataFileReader.FormatOf("d.txt")).Message);

        using var dir = new TempFolder();
        var path = dir.Write("records.txt", "text,label\nhi,1\n");
        var records = DataFileReader.ReadAll(path, DataIssueLog.Strict(), DataFormat.Csv);
        Assert.Equal("hi", records.Single().GetString("text"));
        Assert.Contains("not found", Assert.Throws<PeftException>(() => DataFileReader.Read(dir.File("missing.csv"), new DataIssueLog())).Message);
    }

    [Fact]
    public void TheExampleCsvMatchesTheExampleJsonLines()
    {
        var csv = DataFileReader.ReadAll(DataFiles.Repo("examples/instructions.csv"), DataIssueLog.Strict());
        var jsonl = DataFileReader.ReadAll(DataFiles.Repo("examples/instructions.jsonl"), DataIssueLog.Strict());
        Assert.Equal(26, csv.Count);
        Assert.Equal(30, jsonl.Count);
        for (int i = 0; i < 24; i++)
        {
            Assert.Equal(jsonl[i].GetString("prompt"), csv[i].GetString("prompt"));
            Assert.Equal(jsonl[i].GetString("completion"), csv[i].GetString("completion"));
        }
        Assert.Equal("\"yes\"", csv[24].GetString("completion"));
        Assert.Equal("up\ndown", csv[25].GetString("completion"));
        Assert.Equal(29L, csv[25].Line); // the haiku's two line breaks push later records down
    }
}
