using System.Text;
using PeftSharp.IO.Safetensors;

namespace PeftSharp.Tests.IO;

/// <summary>One hand-made bad file per rule; each must fail at Open naming the file and, where there is one, the tensor.</summary>
public class SafetensorsValidationTests
{
    private static readonly byte[] Data16 = new byte[16];

    private static string Entry(string dtype = "\"F32\"", string shape = "[4]", string offsets = "[0,16]") =>
        $"{{\"dtype\":{dtype},\"shape\":{shape},\"data_offsets\":{offsets}}}";

    private static byte[] File1(string entryJson, byte[]? data = null) =>
        RawSafetensors.Build($"{{\"w\":{entryJson}}}", data ?? Data16);

    public static TheoryData<string, byte[], string?, string> BadFiles() => new()
    {
        // case, file bytes, tensor named in the error (null: whole file), fragment of the message
        { "empty file", [], null, "too short" },
        { "7 bytes", new byte[7], null, "too short" },
        { "header over 100 MB", RawSafetensors.Build("{}", null, 100_000_001), null, "limit" },
        { "header length 2^64-1", RawSafetensors.Build("{}", null, ulong.MaxValue), null, "limit" },
        { "header past end of file", RawSafetensors.Build("{}", null, 3), null, "past the end" },
        { "header length zero", RawSafetensors.Build("", null, 0), null, "empty" },
        { "invalid UTF-8", RawSafetensors.Build([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}']), null, "UTF-8" },
        { "not an object", RawSafetensors.Build("[1, 2]  "), null, "'{'" },
        { "leading space", RawSafetensors.Build(" {}     "), null, "'{'" },
        { "invalid JSON", RawSafetensors.Build("{\"w\":   "), null, "not valid JSON" },
        { "trailing garbage", RawSafetensors.Build("{} x    "), null, "not valid JSON" },
        { "too deep", RawSafetensors.Build("{\"w\":{\"shape\":[[[[[1]]]]]}}"), null, "not valid JSON" },
        { "lone surrogate escape", RawSafetensors.Build("{\"\\udc00\":{}}"), null, "not valid text" },
        { "duplicate tensor", RawSafetensors.Build($"{{\"w\":{Entry()},\"w\":{Entry()}}}", Data16), "w", "more than once" },
        { "duplicate metadata", RawSafetensors.Build("{\"__metadata__\":{},\"__metadata__\":{}}"), null, "more than once" },
        { "metadata not object", RawSafetensors.Build("{\"__metadata__\":\"pt\"}"), null, "__metadata__" },
        { "metadata null", RawSafetensors.Build("{\"__metadata__\":null}"), null, "__metadata__" },
        { "metadata value not string", RawSafetensors.Build("{\"__metadata__\":{\"total\":12}}"), null, "'total'" },
        { "metadata duplicate key", RawSafetensors.Build("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}"), null, "'a'" },
        { "entry not object", File1("[0,16]"), "w", "must be an object" },
        { "missing dtype", File1("{\"shape\":[4],\"data_offsets\":[0,16]}"), "w", "missing field 'dtype'" },
        { "missing shape", File1("{\"dtype\":\"F32\",\"data_offsets\":[0,16]}"), "w", "missing field 'shape'" },
        { "missing offsets", File1("{\"dtype\":\"F32\",\"shape\":[4]}"), "w", "missing field 'data_offsets'" },
        { "extra field", File1("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"x\":1}"), "w", "unexpected field 'x'" },
        { "duplicate field", File1("{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}"), "w", "more than once" },
        { "dtype not string", File1(Entry(dtype: "4")), "w", "not a string" },
        { "dtype unknown", File1(Entry(dtype: "\"F8_E4M3\"")), "w", "F8_E4M3" },
        { "dtype lower case", File1(Entry(dtype: "\"f32\"")), "w", "'f32'" },
        { "shape not array", File1(Entry(shape: "4")), "w", "not an array" },
        { "shape negative", File1(Entry(shape: "[-4]")), "w", "non-negative integers" },
        { "shape fractional", File1(Entry(shape: "[4.0]")), "w", "non-negative integers" },
        { "shape exponent", File1(Entry(shape: "[4e0]")), "w", "non-negative integers" },
        { "shape string", File1(Entry(shape: "[\"4\"]")), "w", "non-negative integers" },
        { "shape beyond int64", File1(Entry(shape: "[18446744073709551616]")), "w", "non-negative integers" },
        { "shape rank 65", File1(Entry(shape: "[" + string.Join(",", Enumerable.Repeat(1, 65)) + "]")), "w", "65 dimensions" },
        { "shape product overflows", File1(Entry(shape: "[4294967296,4294967296,0]")), "w", "64 bits" },
        { "byte length overflows", File1(Entry(dtype: "\"F64\"", shape: "[2305843009213693952]")), "w", "64 bits" },
        { "empty but strides overflow", File1(Entry(shape: "[0,4611686018427387904,4611686018427387904]", offsets: "[0,0]"), []), "w", "64 bits" },
        { "empty but bytes overflow", File1(Entry(dtype: "\"F64\"", shape: "[0,2305843009213693952]", offsets: "[0,0]"), []), "w", "64 bits" },
        { "offsets not array", File1(Entry(offsets: "16")), "w", "two integers" },
        { "offsets three", File1(Entry(offsets: "[0,16,16]")), "w", "two integers" },
        { "offsets negative", File1(Entry(offsets: "[-16,0]")), "w", "non-negative" },
        { "offsets fractional", File1(Entry(offsets: "[0,16.5]")), "w", "non-negative" },
        { "offsets reversed", File1(Entry(offsets: "[16,0]")), "w", "begin after" },
        { "offsets past data", File1(Entry(offsets: "[0,16]"), new byte[8]), "w", "past the end of the data section" },
        { "size mismatch", File1(Entry(shape: "[3]")), "w", "needs 12" },
        { "overlap", RawSafetensors.Build($"{{\"a\":{Entry(offsets: "[0,16]")},\"b\":{Entry(offsets: "[8,24]")}}}", new byte[24]), "b", "overlap tensor 'a'" },
        { "same range twice", RawSafetensors.Build($"{{\"a\":{Entry()},\"b\":{Entry()}}}", Data16), "b", "overlap tensor 'a'" },
        { "gap between", RawSafetensors.Build($"{{\"a\":{Entry(offsets: "[0,16]")},\"b\":{Entry(offsets: "[20,36]")}}}", new byte[36]), "b", "gap of 4 bytes after tensor 'a'" },
        { "gap at start", File1(Entry(offsets: "[4,20]"), new byte[20]), "w", "first 4 bytes" },
        { "trailing bytes", File1(Entry(), new byte[20]), null, "trailing" },
        { "no tensors but data", RawSafetensors.Build("{}      ", new byte[8]), null, "trailing" },
        { "zip pickle", Encoding.ASCII.GetBytes("PK\u0003\u0004\u0014\0\0\0archive/data.pkl"), null, "arbitrary code" },
        { "bare pickle", [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19], null, "arbitrary code" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadFileIsRejectedNamingFileAndTensor(string name, byte[] bytes, string? tensor, string fragment)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ":", e.Message);
        Assert.Equal(tensor, e.TensorName);
        if (tensor != null) Assert.Contains($"tensor '{tensor}'", e.Message);
        Assert.True(e.Message.Contains(fragment, StringComparison.Ordinal), $"{name}: '{fragment}' not in: {e.Message}");
    }

    [Fact]
    public void TheSameEntriesAreAcceptedWhenConsistent()
    {
        // Control for the table above: unusual but valid files load.
        using var dir = new TempDir();
        var path = dir.File("ok.safetensors");
        var header = "{\"b\":{\"data_offsets\":[16,16],\"shape\":[0,7],\"dtype\":\"I64\"}, \"a\":" + Entry() +
                     ",\"c\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[16,17]},\"__metadata__\":{\"k\":\"\\u00e9\"}}   ";
        File.WriteAllBytes(path, RawSafetensors.Build(header, new byte[17]));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["a", "b", "c"], file.Keys);
        Assert.Equal("é", file.Metadata["k"]);
        using var c = file.Load("c");
        Assert.Equal(0L, c.dim());
    }

    [Fact]
    public void ATruncatedFileAfterOpeningFailsCleanly()
    {
        using var dir = new TempDir();
        var path = dir.File("shrinks.safetensors");
        File.WriteAllBytes(path, File1(Entry(), Enumerable.Range(1, 16).Select(i => (byte)i).ToArray()));
        using var file = SafetensorsFile.Open(path);
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            fs.SetLength(fs.Length - 4);
        var e = Assert.Throws<SafetensorsFormatException>(() => file.Load("w"));
        Assert.Equal("w", e.TensorName);
        Assert.Contains("shorter than its header says", e.Message);
    }

    [Fact]
    public void MissingFileAndFolderAreUserErrors()
    {
        using var dir = new TempDir();
        var missing = Assert.Throws<PeftException>(() => SafetensorsFile.Open(dir.File("none.safetensors")));
        Assert.Contains("does not exist", missing.Message);
        var folder = Assert.Throws<PeftException>(() => SafetensorsFile.Open(dir.Path));
        Assert.Contains("folder", folder.Message);
    }
}
