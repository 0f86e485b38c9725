using PeftSharp.Models;
using PeftSharp.Tokenization;
using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// Forgetting of an encoder (or a classifier built on one): how far its sentence embeddings of a fixed general-text
/// sample moved from the original's. The embedding is the masked mean of the last hidden states (as sentence-transformers
/// pools MiniLM). Two numbers, both 1 for an unchanged model:
/// <code>embedding_cosine  = mean over texts t of cos(e₀(t), e(t))
/// neighbour_overlap = mean over t of |kNN₀(t) ∩ kNN(t)| / k,  kNN by cosine among the other texts, k = min(10, n − 1)</code>
/// The first says whether each text still lands where it did; the second whether the space keeps its neighbourhoods,
/// which is what retrieval and clustering on the embeddings rely on (a rotation of the whole space keeps it).
/// </summary>
public sealed class EmbeddingDrift(PretrainedModel model, ITextTokenizer tokenizer, IReadOnlyList<string> texts, int maxLength, int batchSize = 16) : IDriftMeasure
{
    public const string CosineKey = "embedding_cosine";
    public const string OverlapKey = "neighbour_overlap";
    private const string EmbeddingsKey = "embeddings";

    public Dictionary<string, Tensor> Reference() => new() { [EmbeddingsKey] = Embed() };

    public Dictionary<string, double> Compare(IReadOnlyDictionary<string, Tensor> reference)
    {
        using var scope = NewDisposeScope();
        var original = reference[EmbeddingsKey];
        var now = Embed();
        if (!original.shape.SequenceEqual(now.shape))
            throw new PeftException($"forgetting: the reference holds embeddings of shape [{string.Join(", ", original.shape)}], the model gives [{string.Join(", ", now.shape)}]");
        return new() { [CosineKey] = MeanCosine(original, now), [OverlapKey] = NeighbourOverlap(original, now, Math.Min(10, (int)now.shape[0] - 1)) };
    }

    /// <summary>Mean over rows of the cosine between matching rows of two [n, d] tensors.</summary>
    public static double MeanCosine(Tensor a, Tensor b) =>
        nn.functional.cosine_similarity(a.to(ScalarType.Float64), b.to(ScalarType.Float64), dim: 1).mean().item<double>();

    /// <summary>Mean share of each row's k nearest other rows (by cosine) that the two embeddings agree on.</summary>
    public static double NeighbourOverlap(Tensor a, Tensor b, int k)
    {
        if (k < 1) throw new PeftException("neighbour overlap needs at least 2 texts");
        using var scope = NewDisposeScope();
        var na = Neighbours(a, k);
        var nb = Neighbours(b, k);
        double total = 0;
        for (int i = 0; i < na.Length; i++) total += (double)na[i].Intersect(nb[i]).Count() / k;
        return total / na.Length;
    }

    private static long[][] Neighbours(Tensor e, int k)
    {
        var unit = nn.functional.normalize(e.to(ScalarType.Float64), p: 2, dim: -1);
        long n = e.shape[0];
        var similarity = unit.matmul(unit.t()).masked_fill(eye(n, dtype: ScalarType.Bool, device: e.device), double.NegativeInfinity);
        var (_, index) = similarity.topk(k, dim: 1);
        var flat = index.cpu().data<long>().ToArray();
        return Enumerable.Range(0, (int)n).Select(i => flat.AsSpan(i * k, k).ToArray()).ToArray();
    }

    /// <summary>[n, hidden] float32 embeddings of the texts on the CPU, in eval mode and without gradients.</summary>
    public Tensor Embed()
    {
        using var inference = InferenceScope.Enter(model);
        var device = model.Device;
        var parts = new List<Tensor>();
        for (int start = 0; start < texts.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = BatchEncoding.Create(tokenizer, texts.Skip(start).Take(batchSize), new BatchEncodingOptions { MaxLength = maxLength });
            long[] shape = [batch.BatchSize, batch.SequenceLength];
            var mask = tensor(batch.AttentionMaskFlat(), shape, device: device);
            var output = model.forward(new ModelInputs { InputIds = tensor(batch.InputIdsFlat(), shape, device: device), AttentionMask = mask });
            var hidden = output.LastHiddenState ?? throw new PeftException($"forgetting: {model.ArchitectureName} returns no hidden states to compare");
            // Prompt methods prepend virtual positions: the text's own states are the last ones.
            hidden = hidden.narrow(1, hidden.shape[1] - batch.SequenceLength, batch.SequenceLength);
            parts.Add(Embeddings.SentenceEmbedding.MeanPool(hidden.to(ScalarType.Float32), mask).cpu().MoveToOuterDisposeScope());
        }
        var all = cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }
}
