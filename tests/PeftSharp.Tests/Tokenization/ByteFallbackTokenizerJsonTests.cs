using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

/// <summary>
/// The shape of Llama 2's tokenizer.json (Prepend/Replace normalizer, character BPE with byte_fallback, BOS template,
/// Replace/ByteFallback/Fuse/Strip decoder) on a vocabulary small enough to work the ids out by hand.
/// </summary>
public class ByteFallbackTokenizerJsonTests
{
    private const string Json = """
        {"version":"1.0",
         "added_tokens":[{"id":0,"content":"<unk>","special":true},{"id":1,"content":"<s>","special":true},{"id":2,"content":"</s>","special":true}],
         "normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},
         "pre_tokenizer":null,
         "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
                           "pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},
         "decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},
                    {"type":"Strip","content":" ","start":1,"stop":0}]},
         "model":{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":true,
                  "byte_fallback":true,"ignore_merges":false,
                  "vocab":{"<unk>":0,"<s>":1,"</s>":2,"<0xC3>":3,"<0xA9>":4,"▁":5,"h":6,"i":7,"▁h":8,"▁hi":9},
                  "merges":["▁ h","▁h i"]}}
        """;

    [Fact]
    public void UnknownCharactersFallBackToBytesAndDecodeBack()
    {
        var t = AutoTokenizer.FromFolder(WriteFolder(("tokenizer.json", Json),
            ("tokenizer_config.json", """{"bos_token":"<s>","eos_token":"</s>","unk_token":"<unk>","pad_token":null}""")));
        var ids = t.Encode("hi é");
        Assert.Equal(new[] { 1, 9, 5, 3, 4 }, ids);
        Assert.Equal("hi é", t.Decode(ids));
        Assert.Equal((1, 2, 0), (t.BosTokenId!.Value, t.EosTokenId!.Value, t.UnkTokenId!.Value));
        Assert.Null(t.PadTokenId);
    }

    [Fact]
    public void CharactersWithoutByteTokensBecomeOneFusedUnknown()
    {
        var t = AutoTokenizer.FromFolder(WriteFolder(("tokenizer.json", Json)));
        Assert.Equal(new[] { 9, 0 }, t.Encode("hi€€", addSpecialTokens: false));
    }
}
