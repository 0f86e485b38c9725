using System.Text.Json;
using PeftSharp.IO.Safetensors;
using TorchSharp;

namespace PeftSharp.Tests.IO;

public class CheckpointReaderTests
{
    /// <summary>A two-shard folder in the layout transformers writes: a and b in shard 1, c in shard 2.</summary>
    private static void MakeShardedFolder(TempDir dir, Dictionary<string, string>? weightMapOverride = null)
    {
        using var a = torch.arange(4, dtype: torch.ScalarType.Float32);
        using var b = torch.ones(2, 3);
        using var c = torch.full([5], 7, torch.ScalarType.Int64);
        SafetensorsWriter.Write(dir.File("model-00001-of-00002.safetensors"), [new("a", a), new("b", b)], new Dictionary<string, string> { ["format"] = "pt" });
        SafetensorsWriter.Write(dir.File("model-00002-of-00002.safetensors"), [new("c", c)], new Dictionary<string, string> { ["format"] = "pt" });
        var weightMap = weightMapOverride ?? new Dictionary<string, string>
        {
            ["a"] = "model-00001-of-00002.safetensors",
            ["b"] = "model-00001-of-00002.safetensors",
            ["c"] = "model-00002-of-00002.safetensors",
        };
        File.WriteAllText(dir.File(CheckpointReader.IndexFileName),
            JsonSerializer.Serialize(new { metadata = new { total_size = 80 }, weight_map = weightMap }));
    }

    [Fact]
    public void ShardedFolderLoadsEveryTensorFromItsShard()
    {
        using var dir = new TempDir();
        MakeShardedFolder(dir);
        using var reader = CheckpointReader.OpenFolder(dir.Path);
        Assert.Equal(dir.File(CheckpointReader.IndexFileName), reader.IndexPath);
        Assert.Equal(2, reader.Files.Count);
        Assert.Equal(["a", "b", "c"], reader.Keys);
        Assert.True(reader.Contains("c"));
        Assert.EndsWith("model-00002-of-00002.safetensors", reader.FileOf("c").Path);
        Assert.Equal([5L], reader.GetEntry("c").Shape);
        using var c = reader.Load("c", dtype: torch.ScalarType.Float32);
        Assert.Equal(35f, c.sum().item<float>());
        var all = reader.LoadAll();
        Assert.Equal(["a", "b", "c"], all.Keys);
        foreach (var t in all.Values) t.Dispose();

        using var byIndex = CheckpointReader.OpenFile(dir.File(CheckpointReader.IndexFileName));
        Assert.Equal(reader.Keys, byIndex.Keys);

        var e = Assert.Throws<PeftException>(() => reader.GetEntry("d"));
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("'d'", e.Message);
    }

    public static TheoryData<string, string, string> BadShardNames() => new()
    {
        { "parent", "../model-00002-of-00002.safetensors", "not a plain file name" },
        { "absolute", "/etc/passwd", "not a plain file name" },
        { "subfolder", "sub/model.safetensors", "not a plain file name" },
        { "backslash", "..\\model.safetensors", "not a plain file name" },
        { "dotdot", "..", "not a plain file name" },
        { "empty", "", "not a plain file name" },
        { "missing", "model-00003-of-00002.safetensors", "does not exist" },
        { "wrong shard", "model-00001-of-00002.safetensors", "has no such tensor" },
    };

    [Theory]
    [MemberData(nameof(BadShardNames))]
    public void BadIndexEntriesAreRejectedNamingIndexAndKey(string name, string shardForC, string fragment)
    {
        using var dir = new TempDir();
        MakeShardedFolder(dir, new Dictionary<string, string>
        {
            ["a"] = "model-00001-of-00002.safetensors",
            ["b"] = "model-00001-of-00002.safetensors",
            ["c"] = shardForC,
        });
        var e = Assert.Throws<SafetensorsFormatException>(() => CheckpointReader.OpenFolder(dir.Path).Dispose());
        Assert.Equal(dir.File(CheckpointReader.IndexFileName), e.FilePath);
        Assert.Equal("c", e.TensorName);
        Assert.True(e.Message.Contains(fragment, StringComparison.Ordinal), $"{name}: {e.Message}");
    }

    [Theory]
    [InlineData("{\"weight_map\":", "not valid JSON")]
    [InlineData("[]", "weight_map")]
    [InlineData("{\"metadata\":{}}", "no \"weight_map\"")]
    [InlineData("{\"weight_map\":{}}", "empty")]
    [InlineData("{\"weight_map\":{\"a\":1}}", "not a shard file name")]
    [InlineData("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"a\":\"model-00001-of-00002.safetensors\"}}", "more than once")]
    public void MalformedIndexIsRejected(string json, string fragment)
    {
        using var dir = new TempDir();
        MakeShardedFolder(dir);
        File.WriteAllText(dir.File(CheckpointReader.IndexFileName), json);
        var e = Assert.Throws<SafetensorsFormatException>(() => CheckpointReader.OpenFolder(dir.Path).Dispose());
        Assert.Contains(CheckpointReader.IndexFileName, e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void BrokenShardIsReportedWithTheShardsPath()
    {
        using var dir = new TempDir();
        MakeShardedFolder(dir);
        File.WriteAllBytes(dir.File("model-00002-of-00002.safetensors"), new byte[5]);
        var e = Assert.Throws<SafetensorsFormatException>(() => CheckpointReader.OpenFolder(dir.Path).Dispose());
        Assert.Equal(dir.File("model-00002-of-00002.safetensors"), e.FilePath);
    }

    [Fact]
    public void FolderChoosesModelSafetensorsOverOtherFiles()
    {
        // The fixture folder also holds reference_outputs.safetensors.
        using var reader = CheckpointReader.OpenFolder(RawSafetensors.Fixture("gpt2"));
        Assert.True(reader.Contains("transformer.wte.weight"));
        Assert.False(reader.Contains("logits"));
    }

    [Fact]
    public void FolderWithOneDifferentlyNamedFileOpensIt()
    {
        using var dir = new TempDir();
        using var t = torch.ones(3);
        SafetensorsWriter.Write(dir.File("weights.safetensors"), [new("w", t)]);
        File.WriteAllText(dir.File("config.json"), "{}");
        using var reader = CheckpointReader.OpenFolder(dir.Path);
        Assert.Equal(["w"], reader.Keys);
    }

    [Fact]
    public void AmbiguousFolderListsTheCandidates()
    {
        var folder = RawSafetensors.Fixture("llama", "adapters", "lora");
        var e = Assert.Throws<PeftException>(() => CheckpointReader.OpenFolder(folder));
        Assert.Contains("adapter_model.safetensors", e.Message);
        Assert.Contains("reference_outputs.safetensors", e.Message);
        using var adapter = CheckpointReader.OpenFile(Path.Combine(folder, "adapter_model.safetensors"));
        Assert.NotEmpty(adapter.Keys);
    }

    [Fact]
    public void EmptyOrMissingFolderSaysSo()
    {
        using var dir = new TempDir();
        Assert.Contains("no model weights", Assert.Throws<PeftException>(() => CheckpointReader.OpenFolder(dir.Path)).Message);
        File.WriteAllText(dir.File("config.json"), "{}");
        Assert.Contains("config.json", Assert.Throws<PeftException>(() => CheckpointReader.OpenFolder(dir.Path)).Message);
        Assert.Contains("does not exist", Assert.Throws<PeftException>(() => CheckpointReader.OpenFolder(dir.File("nope"))).Message);
    }

    [Theory]
    [InlineData("pytorch_model.bin")]
    [InlineData("model.pt")]
    [InlineData("model.pth")]
    [InlineData("last.ckpt")]
    public void PickleCheckpointsAreRefusedWithConversionAdvice(string fileName)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File(fileName), [0x80, 0x02, 0x8a, 0x0a]);
        File.WriteAllText(dir.File("config.json"), "{}");

        foreach (var open in new Func<IDisposable>[]
                 {
                     () => CheckpointReader.OpenFolder(dir.Path),
                     () => CheckpointReader.OpenFile(dir.File(fileName)),
                     () => SafetensorsFile.Open(dir.File(fileName)),
                 })
        {
            var e = Assert.Throws<PeftException>(() => open().Dispose());
            Assert.Contains(fileName, e.Message);
            Assert.Contains("arbitrary code", e.Message);
            Assert.Contains($"save_file(torch.load(\"{fileName}\", weights_only=True), \"model.safetensors\")", e.Message);
            Assert.Contains("safe_serialization=True", e.Message);
        }
    }

    [Fact]
    public void PickleShardInIndexIsRefused()
    {
        using var dir = new TempDir();
        MakeShardedFolder(dir, new Dictionary<string, string> { ["a"] = "pytorch_model-00001-of-00002.bin" });
        var e = Assert.Throws<PeftException>(() => CheckpointReader.OpenFolder(dir.Path));
        Assert.Contains("arbitrary code", e.Message);
    }

    [Fact]
    public void SafetensorsNextToPickleIsPreferred()
    {
        using var dir = new TempDir();
        using var t = torch.ones(1);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [new("w", t)]);
        File.WriteAllBytes(dir.File("pytorch_model.bin"), [0x80, 0x02]);
        using var reader = CheckpointReader.OpenFolder(dir.Path);
        Assert.Equal(["w"], reader.Keys);
    }
}
