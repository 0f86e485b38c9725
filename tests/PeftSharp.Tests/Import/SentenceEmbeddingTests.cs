using PeftSharp.Embeddings;
using PeftSharp.IO;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Import;

public class SentenceEmbeddingTests
{
    [Fact]
    public void MeanPoolIgnoresPaddedPositions()
    {
        using var scope = NewDisposeScope();
        var hidden = tensor(new float[] { 1, 2, 3, 4, 100, 100, 5, 6, 7, 8, 9, 10 }, [2, 3, 2]);
        var mask = tensor(new long[] { 1, 1, 0, 1, 1, 1 }, [2, 3]);
        var pooled = SentenceEmbedding.MeanPool(hidden, mask);
        Assert.Equal([2f, 3, 7, 8], pooled.data<float>().ToArray());
        var unit = SentenceEmbedding.Normalize(pooled);
        Assert.Equal(1.0, unit[0].norm().item<float>(), 5);
        Assert.Equal(1.0, SentenceEmbedding.CosineSimilarities(pooled)[1, 1].item<float>(), 5);
        Assert.Equal(0.0, SentenceEmbedding.CosineSimilarity([1f, 0], [0f, 2]), 12);
        Assert.Throws<PeftException>(() => SentenceEmbedding.MeanPool(hidden, mask[.., ..2]));
    }

    [Fact]
    public void AtomicFolderNeverLeavesAHalfWrittenFolder()
    {
        var parent = Directory.CreateTempSubdirectory("peft-atomic-").FullName;
        try
        {
            var target = Path.Combine(parent, "model");
            Assert.Throws<InvalidOperationException>(() => AtomicFolder.Write(target, dir =>
            {
                File.WriteAllText(Path.Combine(dir, "config.json"), "{}");
                throw new InvalidOperationException("crash halfway");
            }, overwrite: false));
            Assert.Empty(Directory.EnumerateFileSystemEntries(parent));

            AtomicFolder.Write(target, dir => File.WriteAllText(Path.Combine(dir, "a"), "1"), overwrite: false);
            var e = Assert.Throws<PeftException>(() => AtomicFolder.Write(target, _ => { }, overwrite: false));
            Assert.Contains("already exists", e.Message);
            AtomicFolder.Write(target, dir => File.WriteAllText(Path.Combine(dir, "b"), "2"), overwrite: true);
            Assert.Equal(["b"], Directory.GetFiles(target).Select(Path.GetFileName));
            Assert.Equal(["model"], Directory.EnumerateFileSystemEntries(parent).Select(Path.GetFileName));
        }
        finally { Directory.Delete(parent, recursive: true); }
    }
}
