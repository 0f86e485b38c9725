using System.Buffers.Binary;
using System.Text;
using PeftSharp.IO.Safetensors;
using TorchSharp;

namespace PeftSharp.Tests.IO;

public class SafetensorsRoundTripTests
{
    public static TheoryData<SafetensorsDType> AllDTypes()
    {
        var data = new TheoryData<SafetensorsDType>();
        foreach (var d in SafetensorsDTypes.All) data.Add(d);
        return data;
    }

    /// <summary>A tensor with random bytes (0/1 for BOOL) whose bytes we can compare after a round trip.</summary>
    internal static torch.Tensor RandomTensor(SafetensorsDType dtype, long[] shape, int seed)
    {
        var t = torch.empty(shape, SafetensorsDTypes.ToScalarType(dtype));
        if (t.numel() == 0) return t;
        var bytes = t.bytes;
        new Random(seed).NextBytes(bytes);
        if (dtype == SafetensorsDType.BOOL)
            for (int i = 0; i < bytes.Length; i++) bytes[i] &= 1;
        return t;
    }

    private static byte[] HeaderText(string path, out ulong n)
    {
        var all = File.ReadAllBytes(path);
        n = BinaryPrimitives.ReadUInt64LittleEndian(all);
        return all.AsSpan(8, (int)n).ToArray();
    }

    [Theory]
    [MemberData(nameof(AllDTypes))]
    public void EveryDTypeRoundTripsByteForByte(SafetensorsDType dtype)
    {
        using var dir = new TempDir();
        var path = dir.File("t.safetensors");
        using var original = RandomTensor(dtype, [3, 5], seed: (int)dtype);
        SafetensorsWriter.Write(path, [new("x", original)]);

        using var file = SafetensorsFile.Open(path);
        var entry = file.GetEntry("x");
        Assert.Equal(dtype, entry.DType);
        Assert.Equal([3L, 5L], entry.Shape);
        Assert.Equal(15L, entry.ElementCount);
        Assert.Equal(15L * SafetensorsDTypes.SizeOf(dtype), entry.ByteLength);
        using var loaded = file.Load("x");
        Assert.Equal(SafetensorsDTypes.ToScalarType(dtype), loaded.dtype);
        Assert.Equal(original.bytes.ToArray(), loaded.bytes.ToArray());
    }

    [Fact]
    public void HalfPrecisionValuesSurvive()
    {
        using var dir = new TempDir();
        var path = dir.File("h.safetensors");
        float[] values = [1.5f, -2f, 3.25f, 0f, 65504f];
        using var f = torch.tensor(values);
        using var bf = f.to(torch.ScalarType.BFloat16);
        using var half = f.to(torch.ScalarType.Float16);
        SafetensorsWriter.Write(path, [new("bf", bf), new("half", half)]);

        using var file = SafetensorsFile.Open(path);
        using var bfBack = file.Load("bf", dtype: torch.ScalarType.Float32);
        using var halfBack = file.Load("half", dtype: torch.ScalarType.Float32);
        Assert.Equal(torch.ScalarType.Float32, bfBack.dtype);
        Assert.Equal(values, halfBack.data<float>().ToArray());
        // 65504 is not representable in bfloat16 (8 mantissa bits); compare against torch's own rounding.
        using var bfExpected = bf.to(torch.ScalarType.Float32);
        Assert.Equal(bfExpected.data<float>().ToArray(), bfBack.data<float>().ToArray());
        Assert.Equal(bf.bytes.ToArray(), file.Load("bf").bytes.ToArray());
    }

    [Fact]
    public void ScalarsHaveEmptyShape()
    {
        using var dir = new TempDir();
        var path = dir.File("s.safetensors");
        using var scalar = torch.tensor(42.5);
        SafetensorsWriter.Write(path, [new("s", scalar)]);

        Assert.Contains("\"shape\":[]", Encoding.UTF8.GetString(HeaderText(path, out _)));
        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.GetEntry("s").Shape);
        Assert.Equal(1L, file.GetEntry("s").ElementCount);
        using var back = file.Load("s");
        Assert.Equal(0L, back.dim());
        Assert.Equal(42.5, back.item<double>());
    }

    [Fact]
    public void ZeroSizeTensorsRoundTrip()
    {
        using var dir = new TempDir();
        var path = dir.File("z.safetensors");
        using var empty1 = torch.empty([0], torch.ScalarType.Float32);
        using var empty2 = torch.empty([3, 0, 2], torch.ScalarType.Int64);
        using var full = torch.arange(6, dtype: torch.ScalarType.Float32);
        SafetensorsWriter.Write(path, [new("e1", empty1), new("e2", empty2), new("full", full)]);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(0L, file.GetEntry("e1").ByteLength);
        Assert.Equal([3L, 0L, 2L], file.GetEntry("e2").Shape);
        using var e2 = file.Load("e2");
        Assert.Equal([3L, 0L, 2L], e2.shape);
        Assert.Equal(torch.ScalarType.Int64, e2.dtype);
        using var back = file.Load("full");
        Assert.Equal(15f, back.sum().item<float>());
    }

    [Fact]
    public void MetadataRoundTripsAndIsWrittenLikePython()
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["b"] = "quote\" back\\ nl\n tab\t ctl\u0001 é 😀" };
        using var t = torch.ones(2);
        SafetensorsWriter.Write(path, [new("t", t)], metadata);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        var header = Encoding.UTF8.GetString(HeaderText(path, out _));
        Assert.StartsWith("{\"__metadata__\":{\"b\":\"quote\\\" back\\\\ nl\\n tab\\t ctl\\u0001 é 😀\",\"format\":\"pt\"},\"t\":", header);
    }

    [Fact]
    public void EmptyAndNullMetadataDiffer()
    {
        using var dir = new TempDir();
        using var t = torch.ones(1);
        SafetensorsWriter.Write(dir.File("a"), [new("t", t)], new Dictionary<string, string>());
        SafetensorsWriter.Write(dir.File("b"), [new("t", t)]);
        Assert.StartsWith("{\"__metadata__\":{},\"t\"", Encoding.UTF8.GetString(HeaderText(dir.File("a"), out _)));
        Assert.StartsWith("{\"t\"", Encoding.UTF8.GetString(HeaderText(dir.File("b"), out _)));
        using var file = SafetensorsFile.Open(dir.File("b"));
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void FilesWithoutTensorsMatchTheRustLibrarysBytes()
    {
        using var dir = new TempDir();
        SafetensorsWriter.Write(dir.File("a"), []);
        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', 32, 32, 32, 32, 32, 32], File.ReadAllBytes(dir.File("a")));

        SafetensorsWriter.Write(dir.File("b"), [], new Dictionary<string, string> { ["framework"] = "pt" });
        var expected = RawSafetensors.Build("{\"__metadata__\":{\"framework\":\"pt\"}}     ");
        Assert.Equal(40, expected.Length - 8);
        Assert.Equal(expected, File.ReadAllBytes(dir.File("b")));
        using var file = SafetensorsFile.Open(dir.File("b"));
        Assert.Empty(file.Entries);
        Assert.Equal("pt", file.Metadata["framework"]);
    }

    [Fact]
    public void SingleTensorMatchesTheRustLibrarysBytes()
    {
        // The Rust crate's own serialization test: "attn.0", F32 [1, 2, 3] holding 0..5.
        using var dir = new TempDir();
        using var t = torch.arange(6, dtype: torch.ScalarType.Float32).reshape(1, 2, 3);
        SafetensorsWriter.Write(dir.File("a"), [new("attn.0", t)]);
        var bytes = File.ReadAllBytes(dir.File("a"));
        var header = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        Assert.Equal(64UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal(header + new string(' ', 64 - header.Length), Encoding.UTF8.GetString(bytes, 8, 64));
        Assert.Equal(8 + 64 + 24, bytes.Length);
    }

    [Fact]
    public void TensorsAreOrderedLikePythonByDTypeThenUtf8Name()
    {
        using var dir = new TempDir();
        var path = dir.File("o.safetensors");
        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        foreach (var d in SafetensorsDTypes.All.Reverse())
        {
            tensors.Add(new($"z.{d}", RandomTensor(d, [2], 1)));
            tensors.Add(new($"a.{d}", RandomTensor(d, [1], 2)));
        }
        // U+E000 sorts before U+1F600 in UTF-8 (and code points) but after it in UTF-16 ordinal order.
        tensors.Add(new("\U0001F600", torch.zeros(1)));
        tensors.Add(new("\uE000", torch.zeros(1)));
        SafetensorsWriter.Write(path, tensors);

        using var file = SafetensorsFile.Open(path);
        var dtypeOrder = new[] { "I64", "F64", "F32", "I32", "BF16", "F16", "I16", "I8", "U8", "BOOL" };
        var expected = dtypeOrder.SelectMany(d => d == "F32"
            ? new[] { "a.F32", "z.F32", "\uE000", "\U0001F600" }
            : new[] { $"a.{d}", $"z.{d}" });
        Assert.Equal(expected, file.Keys);
        foreach (var (_, t) in tensors) t.Dispose();
    }

    [Fact]
    public void NonContiguousAndStridedTensorsAreWrittenAsTheirValues()
    {
        using var dir = new TempDir();
        var path = dir.File("nc.safetensors");
        using var m = torch.arange(12, dtype: torch.ScalarType.Int32).reshape(3, 4);
        using var transposed = m.t();
        using var sliced = m.narrow(1, 1, 2);
        Assert.False(transposed.is_contiguous());
        SafetensorsWriter.Write(path, [new("t", transposed), new("s", sliced)]);

        using var file = SafetensorsFile.Open(path);
        using var t = file.Load("t");
        using var s = file.Load("s");
        Assert.True(t.eq(transposed).all().item<bool>());
        Assert.True(s.eq(sliced).all().item<bool>());
    }

    [Fact]
    public void WriteToStreamMatchesTheFile()
    {
        using var dir = new TempDir();
        using var a = RandomTensor(SafetensorsDType.F32, [4, 4], 3);
        using var b = RandomTensor(SafetensorsDType.I8, [7], 4);
        KeyValuePair<string, torch.Tensor>[] tensors = [new("a", a), new("b", b)];
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        SafetensorsWriter.Write(dir.File("f"), tensors, metadata);
        using var ms = new MemoryStream();
        SafetensorsWriter.WriteTo(ms, tensors, metadata);
        Assert.Equal(File.ReadAllBytes(dir.File("f")), ms.ToArray());
    }

    [Fact]
    public void LoadConvertsDTypeAndLoadAllKeepsFileOrder()
    {
        using var dir = new TempDir();
        var path = dir.File("l.safetensors");
        using var a = torch.arange(3, dtype: torch.ScalarType.Int64);
        using var b = torch.ones(2, 2);
        SafetensorsWriter.Write(path, [new("b", b), new("a", a)]);

        using var file = SafetensorsFile.Open(path);
        using var asDouble = file.Load("a", torch.CPU, torch.ScalarType.Float64);
        Assert.Equal(torch.ScalarType.Float64, asDouble.dtype);
        Assert.Equal(new[] { 0.0, 1.0, 2.0 }, asDouble.data<double>().ToArray());

        var all = file.LoadAll(dtype: torch.ScalarType.Float16);
        try
        {
            Assert.Equal(file.Keys, all.Keys);
            Assert.Equal(["a", "b"], all.Keys); // I64 sorts before F32
            Assert.All(all.Values, t => Assert.Equal(torch.ScalarType.Float16, t.dtype));
        }
        finally
        {
            foreach (var t in all.Values) t.Dispose();
        }
    }

    [Fact]
    public void MissingKeyNamesTheFileAndNearKeys()
    {
        using var dir = new TempDir();
        var path = dir.File("k.safetensors");
        using var t = torch.ones(1);
        SafetensorsWriter.Write(path, [new("model.layers.0.q_proj.weight", t), new("model.layers.1.q_proj.weight", t), new("lm_head.weight", t)]);

        using var file = SafetensorsFile.Open(path);
        Assert.False(file.Contains("layers.0.q_proj.weight"));
        Assert.False(file.TryGetEntry("nope", out _));
        var e = Assert.Throws<PeftException>(() => file.GetEntry("layers.0.q_proj.weight"));
        Assert.Contains(path, e.Message);
        Assert.Contains("'layers.0.q_proj.weight'", e.Message);
        Assert.Contains("'model.layers.0.q_proj.weight'", e.Message);
        Assert.Throws<PeftException>(() => file.Load("nope"));
    }

    [Fact]
    public void WriterRejectsDuplicateReservedAndUnsupported()
    {
        using var dir = new TempDir();
        using var t = torch.ones(1);
        using var complex = torch.zeros(2, dtype: torch.ScalarType.ComplexFloat32);
        var dup = Assert.Throws<PeftException>(() => SafetensorsWriter.Write(dir.File("a"), [new("x", t), new("x", t)]));
        Assert.Contains("'x'", dup.Message);
        Assert.Throws<PeftException>(() => SafetensorsWriter.Write(dir.File("a"), [new("__metadata__", t)]));
        var bad = Assert.Throws<PeftException>(() => SafetensorsWriter.Write(dir.File("a"), [new("c", complex)]));
        Assert.Contains("'c'", bad.Message);
        Assert.Throws<PeftException>(() => SafetensorsWriter.Write(dir.File("a"), [new("bad\uD800name", t)]));
        Assert.Throws<PeftException>(() => SafetensorsDTypes.FromScalarType(torch.ScalarType.ComplexFloat64));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void DTypeHelpersAgree()
    {
        foreach (var d in SafetensorsDTypes.All)
        {
            Assert.Equal(d, SafetensorsDTypes.FromScalarType(SafetensorsDTypes.ToScalarType(d)));
            Assert.Equal(d, SafetensorsDTypes.Parse(SafetensorsDTypes.ToHeaderString(d)));
            using var t = torch.empty(1, SafetensorsDTypes.ToScalarType(d));
            Assert.Equal(SafetensorsDTypes.SizeOf(d), (int)t.element_size());
        }
        Assert.False(SafetensorsDTypes.TryParse("f32", out _));
        Assert.False(SafetensorsDTypes.TryParse("1", out _));
        Assert.False(SafetensorsDTypes.TryParse("U16", out _));
        Assert.Throws<PeftException>(() => SafetensorsDTypes.Parse("F8_E4M3"));
    }
}
