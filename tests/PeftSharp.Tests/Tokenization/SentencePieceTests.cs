using System.Text;
using PeftSharp.Tokenization;
using static PeftSharp.Tests.Tokenization.TokenizerTestData;

namespace PeftSharp.Tests.Tokenization;

/// <summary>
/// No real tokenizer.model is available offline, so these write tiny SentencePiece models (protobuf ModelProto by
/// hand) whose ids can be worked out on paper: they check the loading, BOS/EOS and decoding, not Llama's vocabulary.
/// </summary>
public class SentencePieceTests
{
    private const int Normal = 1, Unknown = 2, Control = 3;

    private static byte[] Model(int modelType, (int Unk, int Bos, int Eos, int Pad) ids, params (string Piece, float Score, int Type)[] pieces)
    {
        var model = new List<byte>();
        foreach (var (piece, score, type) in pieces)
        {
            var p = new List<byte>();
            Bytes(p, 1, Encoding.UTF8.GetBytes(piece));
            Tag(p, 2, 5); p.AddRange(BitConverter.GetBytes(score));
            Varint(p, 3, type);
            Bytes(model, 1, p.ToArray());
        }
        var trainer = new List<byte>();
        Varint(trainer, 3, modelType);
        Varint(trainer, 4, pieces.Length);
        Varint(trainer, 40, ids.Unk); Varint(trainer, 41, ids.Bos); Varint(trainer, 42, ids.Eos); Varint(trainer, 43, ids.Pad);
        Bytes(model, 2, trainer.ToArray());
        var normalizer = new List<byte>();
        Bytes(normalizer, 1, Encoding.UTF8.GetBytes("identity"));
        Varint(normalizer, 3, 1); Varint(normalizer, 4, 1); Varint(normalizer, 5, 1);
        Bytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    private static void Tag(List<byte> o, int field, int wire) => Raw(o, (ulong)(field << 3 | wire));
    private static void Varint(List<byte> o, int field, long v) { Tag(o, field, 0); Raw(o, (ulong)v); }
    private static void Bytes(List<byte> o, int field, byte[] b) { Tag(o, field, 2); Raw(o, (ulong)b.Length); o.AddRange(b); }
    private static void Raw(List<byte> o, ulong v)
    {
        while (v >= 0x80) { o.Add((byte)(v | 0x80)); v >>= 7; }
        o.Add((byte)v);
    }

    private static readonly (string, float, int)[] Specials = [("<unk>", 0, Unknown), ("<s>", 0, Control), ("</s>", 0, Control)];
    private static readonly (string, float, int)[] Chars = "▁helowrd".Select((c, i) => (c.ToString(), -100f - i, Normal)).ToArray();

    private static string Folder(byte[] model, string fileName, string? config = null)
    {
        string dir = NewTempDir();
        File.WriteAllBytes(Path.Combine(dir, fileName), model);
        if (config is not null) File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config);
        return dir;
    }

    [Fact]
    public void BpeModelAddsBosLikeLlama2()
    {
        // Merges by score: he, ll, ▁he, llo, ▁hello, ▁w, or.
        (string, float, int)[] merged = [("he", -1, Normal), ("ll", -2, Normal), ("▁he", -3, Normal), ("llo", -4, Normal),
            ("▁hello", -5, Normal), ("▁w", -6, Normal), ("or", -7, Normal)];
        var bytes = Model(2, (0, 1, 2, -1), [.. Specials, .. Chars, .. merged]);
        var t = AutoTokenizer.FromFolder(Folder(bytes, "tokenizer.model"));
        int Id(string s) => t.TokenToId(s)!.Value;
        Assert.Equal(new[] { 1, Id("▁hello"), Id("▁w"), Id("or"), Id("l"), Id("d") }, t.Encode("hello world"));
        Assert.Equal((1, 2, 0), (t.BosTokenId!.Value, t.EosTokenId!.Value, t.UnkTokenId!.Value));
        Assert.Equal(18, t.VocabSize);
        Assert.Equal("hello world", t.Decode(t.Encode("hello world")));
    }

    [Fact]
    public void UnigramModelAddsEosLikeT5()
    {
        // T5's layout: <pad> 0, </s> 1, <unk> 2 and no BOS (bos_id -1).
        (string, float, int)[] pieces = [("<pad>", 0, Control), ("</s>", 0, Control), ("<unk>", 0, Unknown),
            .. Chars, ("▁hello", -2, Normal), ("▁world", -2, Normal)];
        var bytes = Model(1, (2, -1, 1, 0), pieces);
        var t = AutoTokenizer.FromFolder(Folder(bytes, "spiece.model", """{"tokenizer_class": "T5Tokenizer"}"""));
        int Id(string s) => t.TokenToId(s)!.Value;
        Assert.Equal(new[] { Id("▁hello"), Id("▁world"), 1 }, t.Encode("hello world"));
        Assert.Equal((0, 1, 2), (t.PadTokenId!.Value, t.EosTokenId!.Value, t.UnkTokenId!.Value));
        Assert.Equal("<pad>", t.IdToToken(0));
        Assert.Null(t.BosTokenId);
        Assert.Equal(13, t.VocabSize);
        Assert.Equal("hello world", t.Decode(t.Encode("hello world")));
        Assert.Equal("hello world</s>", t.Decode(t.Encode("hello world"), skipSpecialTokens: false));
        Assert.Equal(new[] { Id("▁hello"), Id("▁world") }, t.Encode("hello world", addSpecialTokens: false));
    }
}
