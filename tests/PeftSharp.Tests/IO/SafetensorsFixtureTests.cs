using PeftSharp.IO.Safetensors;
using TorchSharp;

namespace PeftSharp.Tests.IO;

/// <summary>Files written by Python (safetensors 0.5.2 via transformers/peft), see fixtures/MANIFEST.md.</summary>
public class SafetensorsFixtureTests
{
    [Fact]
    public void ReadsGpt2WrittenByPython()
    {
        using var file = SafetensorsFile.Open(RawSafetensors.Fixture("gpt2", "model.safetensors"));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal([64L, 192L], file.GetEntry("transformer.h.0.attn.c_attn.weight").Shape);
        Assert.Equal([1000L, 64L], file.GetEntry("transformer.wte.weight").Shape);
        Assert.Equal([128L, 64L], file.GetEntry("transformer.wpe.weight").Shape);
        Assert.False(file.Contains("lm_head.weight")); // tied to wte, so not saved
        Assert.All(file.Entries, e => Assert.Equal(SafetensorsDType.F32, e.DType));
        Assert.Equal(172_288L, file.Entries.Sum(e => e.ElementCount));

        using var ln = file.Load("transformer.ln_f.weight");
        Assert.Equal([64L], ln.shape);
        Assert.True(ln.eq(1f).all().item<bool>()); // LayerNorm weights start at one
        using var wte = file.Load("transformer.wte.weight");
        Assert.InRange(wte.std().item<float>(), 0.01f, 0.03f); // initializer_range 0.02
    }

    [Fact]
    public void ReadsLlamaAndReferenceOutputs()
    {
        using var model = CheckpointReader.OpenFolder(RawSafetensors.Fixture("llama"));
        Assert.Null(model.IndexPath);
        Assert.EndsWith("model.safetensors", Assert.Single(model.Files).Path);
        Assert.Equal([1000L, 64L], model.GetEntry("lm_head.weight").Shape);
        Assert.Equal([32L, 64L], model.GetEntry("model.layers.0.self_attn.k_proj.weight").Shape); // 2 kv heads x 16
        Assert.Equal(202_048L, model.Files[0].Entries.Sum(e => e.ElementCount));

        using var outputs = SafetensorsFile.Open(RawSafetensors.Fixture("llama", "reference_outputs.safetensors"));
        Assert.Equal([2L, 12L, 1000L], outputs.GetEntry("logits").Shape);
        using var logits = outputs.Load("logits");
        Assert.True(logits.isfinite().all().item<bool>());
    }

    [Fact]
    public void RewritingLlamaReproducesPythonsFileByteForByte()
    {
        var original = RawSafetensors.Fixture("llama", "model.safetensors");
        using var dir = new TempDir();
        AssertRewriteIsIdentical(original, dir.File("copy.safetensors"));
    }

    /// <summary>
    /// Every fixture has at most one metadata key, so Python's random HashMap order for metadata does not
    /// come into play and every file must come out identical.
    /// </summary>
    [Fact]
    public void RewritingEveryFixtureReproducesPythonsFileByteForByte()
    {
        var files = Directory.EnumerateFiles(RawSafetensors.Fixture(), "*.safetensors", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal).ToList();
        Assert.True(files.Count > 100, $"only {files.Count} fixture files found");
        using var dir = new TempDir();
        foreach (var file in files) AssertRewriteIsIdentical(file, dir.File("copy.safetensors"));
    }

    private static void AssertRewriteIsIdentical(string original, string copy)
    {
        using (var file = SafetensorsFile.Open(original))
        {
            var tensors = file.LoadAll();
            try
            {
                SafetensorsWriter.Write(copy, tensors, file.Metadata.Count == 0 && !HasMetadataKey(original) ? null : file.Metadata);
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
        var expected = File.ReadAllBytes(original);
        var actual = File.ReadAllBytes(copy);
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{original}: rewritten file differs (lengths {expected.Length} / {actual.Length})");
    }

    private static bool HasMetadataKey(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return System.Text.Encoding.UTF8.GetString(bytes, 8, (int)BitConverter.ToUInt64(bytes, 0)).Contains("\"__metadata__\"");
    }
}
