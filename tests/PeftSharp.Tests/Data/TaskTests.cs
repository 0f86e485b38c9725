using PeftSharp.Data;
using PeftSharp.Tokenization;
using PeftSharp.Tests.Tokenization;
using static PeftSharp.Data.TokenizedExample;

namespace PeftSharp.Tests.Data;

public class CausalLmTaskTests
{
    [Fact]
    public void PacksDocumentsWithEosIntoBlocksKeepingTheLastPartialBlock()
    {
        var tok = new WordTokenizer();
        var records = DataFiles.Records("d.jsonl", """{"text": "a b c"}""", """{"text": "d e"}""", """{"text": "f g h i"}""");
        var examples = new CausalLmTask(tok, blockSize: 4).Tokenize(records, DataIssueLog.Strict());
        int[] stream = [.. tok.Ids("a b c"), 2, .. tok.Ids("d e"), 2, .. tok.Ids("f g h i"), 2];
        Assert.Equal(12, stream.Length);
        Assert.Equal([stream[..4], stream[4..8], stream[8..12]], examples.Select(e => e.InputIds));
        Assert.All(examples, e => Assert.Equal(e.InputIds, e.Labels));
        // Each block names the record it starts in: [a b c EOS] line 1, [d e EOS f] line 2, [g h i EOS] line 3.
        Assert.Equal([1L, 2L, 3L], examples.Select(e => e.Line));

        var partial = new CausalLmTask(tok, blockSize: 5).Tokenize(records, DataIssueLog.Strict());
        Assert.Equal([5, 5, 2], partial.Select(e => e.InputIds.Length));
        Assert.Equal(stream, partial.SelectMany(e => e.InputIds));
    }

    [Fact]
    public void WithoutPackingEachDocumentIsOneExampleCutAtTheBlockSize()
    {
        var tok = new WordTokenizer(addsBos: true);
        var records = DataFiles.Records("d.jsonl", """{"text": "a b c d e"}""", """{"sentence": "f"}""");
        var examples = new CausalLmTask(tok, blockSize: 4) { Pack = false }.Tokenize(records, DataIssueLog.Strict());
        Assert.Equal([1, .. tok.Ids("a b c")], examples[0].InputIds);
        Assert.Equal([1, tok.Id("f"), 2], examples[1].InputIds);
    }

    [Fact]
    public void MissingEmptyOrWronglyTypedTextIsReported()
    {
        var records = DataFiles.Records("d.jsonl", """{"body": "x"}""", """{"text": "  "}""", """{"text": 5}""", """{"text": "ok"}""");
        var log = new DataIssueLog();
        var examples = new CausalLmTask(new WordTokenizer(), 8).Tokenize(records, log);
        Assert.Single(examples);
        Assert.Equal(["d.jsonl:1: missing field \"text\" (also looked for \"sentence\")", "d.jsonl:2: \"text\" is empty",
            "d.jsonl:3: \"text\" must be a string, found a number"], log.Issues.Select(i => i.ToString()));
        var e = Assert.Throws<PeftException>(() => new CausalLmTask(new WordTokenizer(), 8) { TextField = "body" }.Tokenize(records, DataIssueLog.Strict()));
        Assert.StartsWith("d.jsonl:2: missing field \"body\"", e.Message);
    }
}

public class InstructionTaskTests
{
    [Fact]
    public void TheLossIsOnlyOnTheCompletionAndItsEos()
    {
        var tok = new WordTokenizer();
        var records = DataFiles.Records("i.jsonl", """{"prompt": "What is two plus two?", "completion": "Four."}""");
        var example = new InstructionTask(tok).Tokenize(records, DataIssueLog.Strict()).Single();
        var prompt = tok.Ids("### Instruction:\nWhat is two plus two?\n\n### Response:\n");
        Assert.Equal([.. prompt, tok.Id("Four."), 2], example.InputIds);
        Assert.Equal([.. prompt.Select(_ => IgnoreIndex), tok.Id("Four."), 2], example.Labels!);
    }

    [Fact]
    public void BosIsPrependedAndMaskedWhenTheTokenizerAddsIt()
    {
        var tok = new WordTokenizer(addsBos: true);
        var records = DataFiles.Records("i.jsonl", """{"prompt": "p", "completion": "c"}""");
        var example = new InstructionTask(tok).Tokenize(records, DataIssueLog.Strict()).Single();
        Assert.Equal(1, example.InputIds[0]);
        Assert.Equal(IgnoreIndex, example.Labels![0]);
        Assert.Equal([tok.Id("c"), 2], example.Labels[^2..]);
    }

    [Fact]
    public void ACustomTemplateLearnsTheTextAfterTheCompletionAndFillsPlaceholdersOnce()
    {
        var tok = new WordTokenizer();
        var template = new InstructionTemplate { Prompt = "Q: {prompt} A: {completion} END" };
        var records = DataFiles.Records("i.jsonl", """{"prompt": "say {completion}", "completion": "ok"}""");
        var example = new InstructionTask(tok, template) { AddEos = false }.Tokenize(records, DataIssueLog.Strict()).Single();
        Assert.Equal(tok.Ids("Q: say {completion} A: ok END"), example.InputIds);
        Assert.Equal([IgnoreIndex, IgnoreIndex, IgnoreIndex, IgnoreIndex, tok.Id("ok"), tok.Id("END")], example.Labels!);
    }

    [Fact]
    public void ChatLearnsEveryAssistantMessageAndNothingElse()
    {
        var tok = new WordTokenizer();
        var records = DataFiles.Records("c.jsonl", """
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of Italy?"},
                          {"role": "assistant", "content": "Rome."}, {"role": "user", "content": "And France?"},
                          {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "Thanks"}]}
            """);
        var example = new InstructionTask(tok).Tokenize(records, DataIssueLog.Strict()).Single();
        var first = tok.Ids("### system:\nBe brief.\n\n### user:\nCapital of Italy?\n\n### assistant:\n");
        var second = tok.Ids("### user:\nAnd France?\n\n### assistant:\n");
        Assert.Equal([.. first, tok.Id("Rome."), 2, .. second, tok.Id("Paris."), 2], example.InputIds);
        Assert.Equal([.. first.Select(_ => IgnoreIndex), tok.Id("Rome."), 2, .. second.Select(_ => IgnoreIndex), tok.Id("Paris."), 2], example.Labels!);
        Assert.DoesNotContain(tok.Id("Thanks"), example.InputIds);
    }

    [Fact]
    public void TheExampleFilesTokenizeWithoutIssues()
    {
        var tok = new WordTokenizer();
        var log = DataIssueLog.Strict();
        foreach (var file in new[] { "examples/instructions.jsonl", "examples/instructions.csv", "examples/chat.jsonl" })
        {
            var examples = new InstructionTask(tok).Tokenize(DataFileReader.Read(DataFiles.Repo(file), log), log);
            Assert.NotEmpty(examples);
            Assert.All(examples, e => Assert.Contains(e.Labels!, l => l != IgnoreIndex));
        }
    }

    [Fact]
    public void UnusableRecordsAreReported()
    {
        var records = DataFiles.Records("i.jsonl",
            """{"prompt": "p"}""",
            """{"question": "q"}""",
            """{"messages": [{"role": "user", "content": "hi"}]}""",
            """{"messages": [{"role": "user"}]}""",
            """{"messages": "hello"}""",
            """{"prompt": "a b c d e f", "completion": "g"}""");
        var log = new DataIssueLog();
        var examples = new InstructionTask(new WordTokenizer()) { MaxLength = 8 }.Tokenize(records, log);
        Assert.Empty(examples);
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L], log.Issues.Select(i => i.Line));
        Assert.Contains("missing field \"completion\"", log.Issues[0].Reason);
        Assert.Contains("needs \"prompt\" and \"completion\"", log.Issues[1].Reason);
        Assert.Contains("no \"assistant\" message", log.Issues[2].Reason);
        Assert.Contains("[0] must be an object", log.Issues[3].Reason);
        Assert.Contains("must be a non-empty list", log.Issues[4].Reason);
        Assert.Contains("the prompt alone fills MaxLength (8 tokens)", log.Issues[5].Reason);
    }

    [Fact]
    public void TemplatesWithoutTheirPlaceholderAreRefused()
    {
        var e = Assert.Throws<PeftException>(() => new InstructionTask(new WordTokenizer(), new InstructionTemplate { Prompt = "Question: {promt}" }));
        Assert.Contains("{prompt}", e.Message);
    }

    [Fact]
    public void ARealTokenizerKeepsThePromptMaskedAcrossTheBoundary()
    {
        var bert = AutoTokenizer.FromFolder(TokenizerTestData.MiniLmFolder);
        var records = DataFiles.Records("i.jsonl", """{"prompt": "hello", "completion": "world"}""");
        var example = new InstructionTask(bert, new InstructionTemplate { Prompt = "{prompt} {completion}" }) { AddEos = false }
            .Tokenize(records, DataIssueLog.Strict()).Single();
        Assert.Equal([7592, 2088], example.InputIds);
        Assert.Equal([IgnoreIndex, 2088], example.Labels!);
    }
}

public class ClassificationTaskTests
{
    private static readonly ITextTokenizer Bert = AutoTokenizer.FromFolder(TokenizerTestData.MiniLmFolder);

    [Fact]
    public void TextBecomesIdsWithSpecialTokensAndTheLabelAClassId()
    {
        var records = DataFiles.Records("c.jsonl", """{"text": "hello world", "label": 1}""", """{"sentence": "hello", "label": "0"}""");
        var map = LabelMap.FromRecords(records);
        var examples = new ClassificationTask(Bert, map).Tokenize(records, DataIssueLog.Strict());
        Assert.Equal([101, 7592, 2088, 102], examples[0].InputIds);
        Assert.Equal([1, 0], examples.Select(e => e.ClassLabel!.Value));
        Assert.Equal(TaskKind.SequenceClassification, examples[0].Kind);

        var truncated = new ClassificationTask(Bert, map) { MaxLength = 3 }.Tokenize(records, DataIssueLog.Strict());
        Assert.Equal([101, 7592, 102], truncated[0].InputIds);
    }

    [Fact]
    public void LabelMapsAreSortedNumericallyOrOrdinallyOrGiven()
    {
        var numeric = LabelMap.FromRecords(DataFiles.Records("n", """{"label": 10}""", """{"label": 9}""", """{"label": "2"}""", """{"label": 9}"""));
        Assert.Equal(["2", "9", "10"], numeric.Names);
        Assert.Equal("0=2, 1=9, 2=10", numeric.ToString());

        var named = LabelMap.FromRecords(DataFiles.Records("s", """{"y": "pos"}""", """{"y": "neg"}""", """{"y": "neutral"}""", """{"y": 3.5}"""), "y");
        Assert.Equal(["neg", "neutral", "pos"], named.Names);
        Assert.Equal(2, named.IdOf("pos"));

        var given = LabelMap.FromNames(["positive", "negative"]);
        Assert.Equal(1, given.IdOf("negative"));
        Assert.Throws<PeftException>(() => LabelMap.FromNames(["a", "a"]));
        Assert.Contains("only \"x\"", Assert.Throws<PeftException>(() => LabelMap.FromRecords(DataFiles.Records("o", """{"label": "x"}"""))).Message);
    }

    [Fact]
    public void LabelsOutsideTheMapOrOfTheWrongTypeAreMalformed()
    {
        var records = DataFiles.Records("v.jsonl", """{"text": "a", "label": 2}""", """{"text": "b", "label": 0.5}""",
            """{"text": "c"}""", """{"text": "d", "label": [1]}""", """{"text": "e", "label": 1.0}""");
        var log = new DataIssueLog();
        var examples = new ClassificationTask(Bert, LabelMap.FromNames(["0", "1"])).Tokenize(records, log);
        Assert.Equal(1, examples.Single().ClassLabel);
        Assert.Equal(["v.jsonl:1: label \"2\" is not one of the 2 labels (0, 1)",
            "v.jsonl:2: \"label\" must be an integer or a string, found 0.5",
            "v.jsonl:3: \"label\" is missing",
            "v.jsonl:4: \"label\" must be an integer or a string, found a list"], log.Issues.Select(i => i.ToString()));
    }
}

public class Seq2SeqTaskTests
{
    [Fact]
    public void SourceAndTargetBecomeInputIdsAndTargetIds()
    {
        var tok = new WordTokenizer();
        var records = DataFiles.Records("s.jsonl", """{"source": "the cat sat", "target": "le chat"}""", """{"source": "x"}""");
        var log = new DataIssueLog();
        var examples = new Seq2SeqTask(tok) { SourcePrefix = "translate: ", MaxTargetLength = 1 }.Tokenize(records, log);
        var example = examples.Single();
        Assert.Equal(tok.Ids("translate: the cat sat"), example.InputIds);
        Assert.Equal(tok.Ids("le"), example.TargetIds);
        Assert.Equal(TaskKind.Seq2SeqLm, example.Kind);
        Assert.Equal("s.jsonl:2: missing field \"target\"", log.Issues.Single().ToString());
    }

    [Fact]
    public void ShiftRightPutsTheStartIdFirstAndPadsIgnoredPositions()
    {
        long[] labels = [5, 6, 1, IgnoreIndex, 7, 1, IgnoreIndex, IgnoreIndex];
        Assert.Equal([0, 5, 6, 1, 0, 7, 1, 0], Seq2SeqTask.ShiftRight(labels, columns: 4, decoderStartTokenId: 0, padTokenId: 0));
        Assert.Throws<ArgumentException>(() => Seq2SeqTask.ShiftRight(labels, 3, 0, 0));
    }
}
