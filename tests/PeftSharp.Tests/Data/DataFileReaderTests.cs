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

/// <summary>Invalid UTF-8 and empty files (issue 11, point 6): named with file, line and byte offset, handled by the malformed-record policy.</summary>
public class DataFileEncodingTests
{
    private static string WriteBytes(TempFolder dir, string name, params byte[][] parts)
    {
        var path = dir.File(name);
        File.WriteAllBytes(path, parts.SelectMany(p => p).ToArray());
        return path;
    }

    private static byte[] Text(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Invalid_utf8_in_json_lines_is_skipped_with_file_line_and_byte_offset()
    {
        using var dir = new TempFolder();
        // Line 2 starts at byte 14; its bad byte (0xFF) follows 10 bytes of the line: offset 24.
        var path = WriteBytes(dir, "bad.jsonl", Text("{\"text\": \"a\"}\n"), Text("{\"text\": \""), [0xFF], Text("\"}\n"), Text("{\"text\": \"é\"}\n"));
        var log = new DataIssueLog(MalformedRecordPolicy.Skip);
        var records = DataFileReader.ReadAll(path, log);
        Assert.Equal(["a", "é"], records.Select(r => r.GetString("text")));
        Assert.Equal([1L, 3L], records.Select(r => r.Line));
        Assert.Equal($"{path}:2: invalid UTF-8 (byte offset 24 in the file)", log.Issues.Single().ToString());

        var e = Assert.Throws<PeftException>(() => DataFileReader.ReadAll(path, DataIssueLog.Strict()));
        Assert.StartsWith($"{path}:2: invalid UTF-8 (byte offset 24 in the file)", e.Message);
        Assert.Contains("skip_malformed", e.Message);
    }

    [Fact]
    public void Invalid_utf8_in_csv_skips_the_record_even_inside_a_quoted_multi_line_field()
    {
        using var dir = new TempFolder();
        var path = WriteBytes(dir, "bad.csv", Text("text,label\n"), Text("fine,1\n"), Text("\"two\nli"), [0xC3, 0x28], Text("nes\",0\n"), Text("ok,0\n"));
        var log = new DataIssueLog(MalformedRecordPolicy.Skip);
        var records = DataFileReader.ReadAll(path, log);
        Assert.Equal(["fine", "ok"], records.Select(r => r.GetString("text")));
        Assert.Equal([2L, 5L], records.Select(r => r.Line));
        // Line 4 starts at byte 11 + 7 + 5 = 23; 0xC3 0x28 is invalid at its first byte, the 3rd of the line.
        Assert.Equal($"{path}:4: invalid UTF-8 (byte offset 25 in the file)", log.Issues.Single().ToString());
    }

    [Fact]
    public void A_byte_order_mark_is_not_data_and_utf16_files_still_read()
    {
        using var dir = new TempFolder();
        var bom = WriteBytes(dir, "bom.jsonl", [0xEF, 0xBB, 0xBF], Text("{\"text\": \"x\"}\n"));
        Assert.Equal("x", DataFileReader.ReadAll(bom, DataIssueLog.Strict()).Single().GetString("text"));
        var utf16 = dir.File("utf16.csv");
        File.WriteAllText(utf16, "text,label\nhello,1\n", System.Text.Encoding.Unicode);
        Assert.Equal("hello", DataFileReader.ReadAll(utf16, DataIssueLog.Strict()).Single().GetString("text"));
    }

    [Theory]
    [InlineData("empty.jsonl", "", "the data file is empty")]
    [InlineData("blank.jsonl", "\n  \n", "the data file is empty")]
    [InlineData("empty.csv", "", "the data file is empty")]
    [InlineData("header.csv", "text,label\n", "the data file is empty: it has a header row but no records")]
    public void An_empty_file_says_it_is_empty(string name, string content, string expected)
    {
        using var dir = new TempFolder();
        var path = dir.Write(name, content);
        var e = Assert.Throws<PeftException>(() => DataFileReader.ReadAll(path, new DataIssueLog()));
        Assert.StartsWith($"{path}: {expected}", e.Message);
    }
}
