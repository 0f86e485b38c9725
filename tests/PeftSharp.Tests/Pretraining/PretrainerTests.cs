using System.Text.Json.Nodes;
using PeftSharp.Cli.Pretraining;
using PeftSharp.Models;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Pretraining;

/// <summary>
/// The tiny-gpt2-en pretraining loop on a small GPT-2 with the real vocabulary: the loss falls, the embedding rows of
/// tokens the corpus never uses stay exactly zero, and a run stopped with a checkpoint and resumed ends with the same
/// bytes as one that never stopped.
/// </summary>
public sealed class PretrainerTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("peft-pretrain-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void A_stopped_and_resumed_run_ends_with_the_bytes_of_an_uninterrupted_one_and_unseen_rows_stay_zero()
    {
        string init = Path.Combine(_temp, "init"), data = Path.Combine(_temp, "corpus.jsonl");
        using (var model = TinyModels.Create(TinyModels.Gpt2(c =>
               {
                   c["vocab_size"] = 50257; c["n_embd"] = 16; c["n_layer"] = 1; c["n_head"] = 2; c["n_positions"] = TinyGpt2Recipe.BlockSize;
               }), perturb: false))
            ModelSaver.Save(model, init);
        TinyGpt2Recipe.WriteTokenizerFiles(init);
        File.WriteAllLines(data, Enumerable.Range(1, 40).Select(i => new JsonObject
        {
            ["text"] = $"And on the {i}th day the king went up to the city, and he spake unto the people, saying, Hear now this word."
                + " And they answered him and said, We will do all that thou hast spoken, and we will go.",
        }.ToJsonString()));

        var straight = Pretrainer.Run(data, init, Path.Combine(_temp, "a"), seed: 3, steps: 6, stopAfter: null, resume: false, log: _ => { });
        var first = Pretrainer.Run(data, init, Path.Combine(_temp, "b"), seed: 3, steps: 6, stopAfter: 3, resume: false, log: _ => { });
        Assert.True(first.Interrupted);
        Assert.Equal(3, first.Step);
        var resumed = Pretrainer.Run(data, init, Path.Combine(_temp, "b"), seed: 3, steps: 6, stopAfter: null, resume: true, log: _ => { });
        Assert.False(resumed.Interrupted);
        Assert.Equal(6, resumed.Step);

        Assert.Equal(File.ReadAllBytes(Path.Combine(straight.Checkpoint, "model.safetensors")), File.ReadAllBytes(Path.Combine(resumed.Checkpoint, "model.safetensors")));
        Assert.Equal(straight.ValidationLoss, resumed.ValidationLoss);
        var one = Pretrainer.Run(data, init, Path.Combine(_temp, "c"), seed: 3, steps: 1, stopAfter: null, resume: false, log: _ => { });
        Assert.True(straight.ValidationLoss < one.ValidationLoss, $"validation loss {one.ValidationLoss} after 1 step, {straight.ValidationLoss} after 6");

        using var trained = AutoModel.FromPretrained(init);
        PeftSharp.Training.Checkpoints.RestoreWeights(straight.Checkpoint, null, trained);
        var rows = trained.InputEmbeddings.weight!.abs().sum(1);
        long nonzero = rows.gt(0).sum().item<long>();
        Assert.Equal(straight.CorpusVocabulary, nonzero);
    }

    [Fact]
    public void Resume_without_a_checkpoint_is_refused()
    {
        var e = Assert.Throws<PeftException>(() => Pretrainer.Run(Path.Combine(_temp, "none.jsonl"), Path.Combine(_temp, "none"), Path.Combine(_temp, "run"), 1, 2, null, resume: true, log: _ => { }));
        Assert.Contains("none", e.Message);
    }
}
