using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using PeftSharp.Training.Rounds;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training.Rounds;

/// <summary>
/// The two forgetting measures on real models: an adapter whose update is zero (LoRA's B = 0 at the start) must give
/// exactly the original's values, and a deliberately destructive adapter (B random) must show drift that grows with it.
/// </summary>
[Collection(SerialRandomness.Name)]
public class DriftTests
{
    private static readonly string TinyGpt2 = Path.Combine(AppContext.BaseDirectory, "models", "tiny-gpt2-en");

    /// <summary>Overwrites every lora_B with Gaussian noise of the given standard deviation (seeded).</summary>
    private static void Destroy(PeftModel peft, double std)
    {
        manual_seed(3);
        using var _ = no_grad();
        foreach (var (name, p) in peft.named_parameters().Where(p => p.name.Contains("lora_B", StringComparison.Ordinal)))
            p.copy_(randn(p.shape) * std);
    }

    [Fact]
    public void A_language_model_adapter_that_changes_nothing_forgets_nothing_and_a_destructive_one_forgets_more_the_larger_it_is()
    {
        using var model = AutoModel.FromPretrained(TinyGpt2);
        var tokenizer = AutoTokenizer.FromFolder(TinyGpt2);
        var texts = GeneralText.Load(null, 16);
        var drift = new LanguageModelDrift(model, tokenizer, texts, 64);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, LoraAlpha = 8, Targets = new TargetSpec { TargetList = ["c_attn", "c_fc"] } });
        Dictionary<string, Tensor> reference;
        using (peft.DisableAdapters()) reference = drift.Reference();

        var untouched = drift.Compare(reference);
        Assert.Equal(0.0, untouched[LanguageModelDrift.ForgettingKey]);
        Assert.Equal(reference[LanguageModelDrift.LossKey].item<double>(), untouched[LanguageModelDrift.LossKey]);
        Assert.InRange(untouched[LanguageModelDrift.LossKey], 1, 15); // a pretrained model's loss on English, not a constant

        Destroy(peft, 0.1);
        double small = drift.Compare(reference)[LanguageModelDrift.ForgettingKey];
        Destroy(peft, 0.5);
        double large = drift.Compare(reference)[LanguageModelDrift.ForgettingKey];
        Assert.True(small > 0, $"small noise: forgetting {small}");
        Assert.True(large > 3 * small, $"forgetting {small} with small noise, {large} with large");
        // Disabling the adapter is the original again.
        using (peft.DisableAdapters()) Assert.Equal(0.0, drift.Compare(reference)[LanguageModelDrift.ForgettingKey]);
    }

    [Fact]
    public void An_encoder_adapter_that_changes_nothing_keeps_every_embedding_and_neighbour_and_a_destructive_one_moves_them()
    {
        using var run = new TinyTrainingRun();
        using var model = AutoModel.ForSequenceClassification(run.ModelDir, 2, "mean");
        var tokenizer = AutoTokenizer.FromFolder(run.ModelDir);
        var drift = new EmbeddingDrift(model, tokenizer, GeneralText.Load(null, 24), 32);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, LoraAlpha = 8, Targets = new TargetSpec { TargetList = ["query", "value", "dense"] } });
        Dictionary<string, Tensor> reference;
        using (peft.DisableAdapters()) reference = drift.Reference();

        var untouched = drift.Compare(reference);
        Assert.Equal(1.0, untouched[EmbeddingDrift.CosineKey], 12);
        Assert.Equal(1.0, untouched[EmbeddingDrift.OverlapKey]);

        Destroy(peft, 0.05);
        var small = drift.Compare(reference);
        Destroy(peft, 1.0);
        var large = drift.Compare(reference);
        Assert.True(small[EmbeddingDrift.CosineKey] < 1 && large[EmbeddingDrift.CosineKey] < small[EmbeddingDrift.CosineKey],
            $"cosine {small[EmbeddingDrift.CosineKey]} with small noise, {large[EmbeddingDrift.CosineKey]} with large");
        Assert.True(large[EmbeddingDrift.OverlapKey] < 1, $"overlap {large[EmbeddingDrift.OverlapKey]}");
    }

    [Fact]
    public void Neighbour_overlap_counts_the_neighbours_two_embeddings_share()
    {
        var a = tensor(new float[,] { { 1, 0 }, { 0.9f, 0.1f }, { 0, 1 }, { 0.1f, 0.9f } });
        Assert.Equal(1.0, EmbeddingDrift.NeighbourOverlap(a, a, 1));
        // Rows 1 and 2 swapped: every nearest neighbour changes.
        var swapped = tensor(new float[,] { { 1, 0 }, { 0, 1 }, { 0.9f, 0.1f }, { 0.1f, 0.9f } });
        Assert.Equal(0.0, EmbeddingDrift.NeighbourOverlap(a, swapped, 1));
        // Row 3 moved away: row 2's neighbour becomes row 1, the other three keep theirs (3 of 4).
        var moved = tensor(new float[,] { { 1, 0 }, { 0.9f, 0.1f }, { 0, 1 }, { -1, 0.05f } });
        Assert.Equal(0.75, EmbeddingDrift.NeighbourOverlap(a, moved, 1));
        // A rotation of the whole space keeps every neighbourhood, though each embedding moved.
        var rotation = tensor(new float[,] { { 0, -1 }, { 1, 0 } });
        Assert.Equal(1.0, EmbeddingDrift.NeighbourOverlap(a, a.matmul(rotation), 1));
        Assert.True(EmbeddingDrift.MeanCosine(a, a.matmul(rotation)) < 0.2);
    }

    [Fact]
    public void The_bundled_general_text_is_the_documented_sample_and_a_user_file_replaces_it()
    {
        var all = GeneralText.Bundled();
        Assert.Equal(132, all.Count);
        Assert.All(all, t => Assert.InRange(t.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length, 60, 250));
        Assert.Equal(all.Take(5), GeneralText.Load(null, 5));
        var file = Path.Combine(Path.GetTempPath(), $"general-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(file, ["{\"text\": \"one text\"}", "{\"text\": \"\"}", "{\"text\": \"two texts\"}", "{\"other\": 1}"]);
        try
        {
            Assert.Equal(["one text", "two texts"], GeneralText.Load(file, 64));
            File.WriteAllLines(file, ["{\"text\": \"only one\"}"]);
            var e = Assert.Throws<PeftException>(() => GeneralText.Load(file, 64));
            Assert.Contains(file, e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
