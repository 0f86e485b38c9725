using System.Text;
using System.Text.Json.Nodes;
using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

/// <summary>
/// The ids Hugging Face transformers 4.56 gives for 3,010 texts (TestData/tokenizers/README.md), for each way a
/// folder can describe the same tokenizer. A failure lists the first mismatches with text, expected and actual ids.
/// </summary>
public class HuggingFaceIdsTests
{
    private const string Bert = "minilm_bert_uncased_ids.jsonl";
    private const string Gpt2 = "gpt2_ids.jsonl";

    private static void AssertAllMatch(ITextTokenizer tokenizer, string referenceFile, bool addSpecialTokens)
    {
        var cases = ReferenceIds(referenceFile);
        Assert.Equal(3010, cases.Count);
        var mismatches = new List<string>();
        foreach (var (text, expected) in cases)
        {
            var actual = tokenizer.Encode(text, addSpecialTokens);
            if (!actual.SequenceEqual(expected))
                mismatches.Add($"text: {text}\n  expected: [{string.Join(", ", expected)}]\n  actual:   [{string.Join(", ", actual)}]");
        }
        Assert.True(mismatches.Count == 0,
            $"{mismatches.Count} of {cases.Count} texts differ from Hugging Face; first ones:\n" + string.Join("\n", mismatches.Take(5)));
    }

    [Fact]
    public void MiniLmVocabTxtMatchesHuggingFace() =>
        AssertAllMatch(AutoTokenizer.FromFolder(MiniLmFolder), Bert, addSpecialTokens: true);

    [Fact]
    public void MiniLmTokenizerJsonWithTemplateProcessingMatchesHuggingFace() =>
        AssertAllMatch(AutoTokenizer.FromFolder(WriteFolder(("tokenizer.json", BertTokenizerJson(BertTemplateProcessing())))), Bert, true);

    [Fact]
    public void MiniLmTokenizerJsonWithBertProcessingMatchesHuggingFace() =>
        AssertAllMatch(AutoTokenizer.FromFolder(WriteFolder(("tokenizer.json", BertTokenizerJson(BertProcessing())))), Bert, true);

    [Fact]
    public void Gpt2VocabJsonAndMergesTxtMatchHuggingFace() =>
        AssertAllMatch(AutoTokenizer.FromFolder(Gpt2LegacyFolder), Gpt2, addSpecialTokens: true);

    [Fact]
    public void Gpt2TokenizerJsonMatchesHuggingFace() =>
        AssertAllMatch(AutoTokenizer.FromFolder(WriteFolder(("tokenizer.json", Gpt2TokenizerJson(Gpt2ByteLevelPreTokenizer(), mergesAsPairs: false)))), Gpt2, true);

    /// <summary>
    /// Llama 3 and Qwen2 put their regex in a Split pre-tokenizer followed by ByteLevel(use_regex=false) and write
    /// merges as pairs; with GPT-2's regex in that slot the ids must still be GPT-2's.
    /// </summary>
    [Fact]
    public void Gpt2VocabularyInLlama3StyleTokenizerJsonMatchesHuggingFace()
    {
        var pre = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject
                {
                    ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+" },
                    ["behavior"] = "Isolated", ["invert"] = false,
                },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
        };
        AssertAllMatch(AutoTokenizer.FromFolder(WriteFolder(("tokenizer.json", Gpt2TokenizerJson(pre, mergesAsPairs: true)))), Gpt2, true);
    }
}
