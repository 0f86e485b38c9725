using PeftSharp.Cli.Pretraining;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Pretraining;

/// <summary>
/// The pretraining loss over the corpus's tokens is the full-vocabulary cross-entropy of the model it trains (unseen
/// rows zero), in value and in gradient; and training with it leaves those rows exactly zero.
/// </summary>
public class CorpusSoftmaxTests
{
    [Fact]
    public void Equals_the_full_softmax_cross_entropy_of_the_model_with_unseen_rows_zero_in_value_and_gradient()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var lm = (ILanguageModelHead)model;
        var embedding = model.InputEmbeddings.weight!;
        long vocabulary = embedding.shape[0];
        int[] corpus = [3, 5, 7, 8, 11, 20, 21, 30, 31, 40];
        using var softmax = new CorpusSoftmax(corpus, (int)vocabulary);
        softmax.ZeroUnseenRows(embedding);
        Assert.Equal(vocabulary - corpus.Length, softmax.Unseen);
        using (no_grad()) Assert.Equal(0.0, embedding.index_select(0, tensor(new long[] { 0, 1, 2, 4, 9 })).abs().sum().item<float>());

        // Targets inside the corpus vocabulary, plus one outside it (a validation token the training split never had).
        var ids = tensor(new long[,] { { 3, 5, 7, 8, 11, 20 }, { 21, 30, 31, 40, 3, 2 } });
        var ours = Pretrainer.BlockLoss(lm, softmax, embedding, ids);
        ours.backward();
        var ourGrad = embedding.grad!.clone();
        model.zero_grad();

        var logits = model.forward(new ModelInputs { InputIds = ids }).Logits!;
        var full = nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, vocabulary), ids[.., 1..].reshape(-1));
        full.backward();
        Assert.Equal(full.item<float>(), ours.item<float>(), 5);
        var seen = tensor(corpus.Select(i => (long)i).ToArray());
        // On the corpus's rows the gradients agree; the full softmax also pushes the unseen rows, which this loss
        // holds at zero by construction (they are never looked up and never a target in training).
        Assert.True(embedding.grad!.index_select(0, seen).allclose(ourGrad.index_select(0, seen), rtol: 1e-4, atol: 1e-6));
        Assert.Equal(0.0, ourGrad.abs().sum(1).index_select(0, tensor(new long[] { 0, 1, 4 })).sum().item<float>());
    }

    [Fact]
    public void Refuses_ids_outside_the_vocabulary()
    {
        Assert.Throws<PeftException>(() => new CorpusSoftmax([1, 99], 50));
        Assert.Throws<PeftException>(() => new CorpusSoftmax([], 50));
    }
}
