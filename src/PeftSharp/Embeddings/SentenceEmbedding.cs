using PeftSharp.Models;
using PeftSharp.Models.Common;
using PeftSharp.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Embeddings;

/// <summary>
/// Sentence embeddings the sentence-transformers way: mean of the token states the attention mask keeps (padding
/// must not dilute a short sentence in a batch), optionally L2-normalised, compared by cosine similarity.
/// </summary>
public static class SentenceEmbedding
{
    /// <summary>[batch, seq, hidden] and [batch, seq] mask to [batch, hidden]: the masked mean over positions.</summary>
    public static Tensor MeanPool(Tensor lastHiddenState, Tensor attentionMask) => MeanPooling.Apply(lastHiddenState, attentionMask);

    /// <summary>Rows scaled to unit length (zero rows stay zero), so a dot product is the cosine similarity.</summary>
    public static Tensor Normalize(Tensor embeddings) => nn.functional.normalize(embeddings, p: 2, dim: -1);

    /// <summary>[n, n] cosine similarities between the rows of [n, hidden].</summary>
    public static Tensor CosineSimilarities(Tensor embeddings)
    {
        using var scope = NewDisposeScope();
        var unit = Normalize(embeddings);
        return unit.matmul(unit.t()).MoveToOuterDisposeScope();
    }

    public static double CosineSimilarity(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new PeftException($"cosine similarity of vectors of different lengths ({a.Length} and {b.Length})");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    /// <summary>
    /// Tokenizes <paramref name="texts"/> as one right-padded batch, runs the encoder and mean-pools: a [n, hidden]
    /// float32 CPU tensor. Texts longer than <paramref name="maxLength"/> tokens (special tokens included) are truncated.
    /// </summary>
    public static Tensor Encode(PretrainedModel model, ITextTokenizer tokenizer, IReadOnlyList<string> texts, int maxLength, bool normalize = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (texts.Count == 0) throw new PeftException("no texts to embed");
        var batch = BatchEncoding.Create(tokenizer, texts, new BatchEncodingOptions { MaxLength = maxLength });
        using var scope = NewDisposeScope();
        var device = model.Device;
        var ids = tensor(batch.InputIdsFlat(), [batch.BatchSize, batch.SequenceLength], device: device);
        var mask = tensor(batch.AttentionMaskFlat(), [batch.BatchSize, batch.SequenceLength], device: device);
        ModelOutput output;
        using (no_grad()) output = model.forward(new ModelInputs { InputIds = ids, AttentionMask = mask });
        var hidden = output.LastHiddenState ?? throw new PeftException($"{model.ArchitectureName} returns no last_hidden_state to pool");
        var pooled = MeanPool(hidden.to(ScalarType.Float32), mask);
        if (normalize) pooled = Normalize(pooled);
        return pooled.cpu().MoveToOuterDisposeScope();
    }
}
