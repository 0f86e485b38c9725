using PeftSharp.Data;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// A classifier's class probabilities for every example of an unlabelled pool, in order, and optionally the examples'
/// sentence embeddings (the masked mean of the last hidden states) for diversity; eval mode, no gradients.
/// </summary>
public sealed record PoolPredictions(IReadOnlyList<double[]> Probabilities, IReadOnlyList<string> Origins, float[][]? Embeddings)
{
    public static PoolPredictions Compute(PretrainedModel model, IReadOnlyList<TokenizedExample> examples, Collator collator, int batchSize, Device device, bool embeddings)
    {
        using var inference = InferenceScope.Enter(model);
        var probabilities = new List<double[]>(examples.Count);
        var origins = new List<string>(examples.Count);
        var vectors = embeddings ? new List<float[]>(examples.Count) : null;
        foreach (var batch in new DataLoader(examples, collator, batchSize, 0, shuffle: false).Epoch(0))
        {
            using var scope = NewDisposeScope();
            var inputs = batch.ToModelInputs(device);
            var output = model.forward(inputs);
            var logits = (output.Logits ?? throw new PeftException($"{model.ArchitectureName} has no classification head")).to(ScalarType.Float64);
            var p = nn.functional.softmax(logits, -1).cpu();
            long classes = p.shape[1];
            var flat = p.data<double>().ToArray();
            for (int i = 0; i < batch.Size; i++) probabilities.Add(flat.AsSpan(i * (int)classes, (int)classes).ToArray());
            origins.AddRange(batch.Origins);
            if (vectors != null)
            {
                var hidden = output.LastHiddenState ?? throw new PeftException($"{model.ArchitectureName} returns no hidden states for --diverse");
                hidden = hidden.narrow(1, hidden.shape[1] - batch.SequenceLength, batch.SequenceLength);
                var pooled = PeftSharp.Embeddings.SentenceEmbedding.Normalize(PeftSharp.Embeddings.SentenceEmbedding.MeanPool(hidden.to(ScalarType.Float32), inputs.AttentionMask!)).cpu();
                long d = pooled.shape[1];
                var e = pooled.data<float>().ToArray();
                for (int i = 0; i < batch.Size; i++) vectors.Add(e.AsSpan(i * (int)d, (int)d).ToArray());
            }
        }
        return new PoolPredictions(probabilities, origins, vectors?.ToArray());
    }
}
