using System.Globalization;
using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Cli.Pretraining;

/// <summary>
/// The recipe of tiny-gpt2-en, the small causal LM bundled under models/ so that generation and instruction tuning can be
/// tried in minutes without a download: GPT-2's architecture and real 50,257-token BPE, 6 layers of width 128, pretrained
/// from a seeded random initialisation by <see cref="Pretrainer"/> on the King James Bible (data/kjv).
/// Why this shape: the tied token embedding alone is 50,257 x n_embd, which dominates both the file and the compute
/// (the LM head is 6.4M of the 7.6M multiply-adds per token at width 128). Width 128 in float16 keeps the folder near
/// 15 MB; more layers cost little next to the head, so six of them buy the most quality per second of pretraining.
/// </summary>
public static class TinyGpt2Recipe
{
    public const string Name = "tiny-gpt2-en";
    public const int Width = 128;
    public const int Layers = 6;
    public const int Heads = 4;
    public const int Positions = 256;
    public const int BlockSize = 128;
    public const int BatchSize = 4;
    public const double LearningRate = 2.5e-3;
    public const double WeightDecay = 0.01;
    public const double Beta1 = 0.9;
    public const double Beta2 = 0.95;
    public const int WarmupSteps = 30;
    public const int LogEvery = 20;
    public const int EvalEvery = 300;
    public const int SaveEvery = 100;
    public const int DefaultSteps = 600;
    public const long DefaultSeed = 1;

    public static string ConfigJson() => new JsonObject
    {
        ["model_type"] = "gpt2",
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["vocab_size"] = 50257,
        ["n_positions"] = Positions,
        ["n_ctx"] = Positions,
        ["n_embd"] = Width,
        ["n_layer"] = Layers,
        ["n_head"] = Heads,
        ["activation_function"] = "gelu_new",
        // No dropout: the model sees a fraction of one pass over its corpus and underfits it; dropout would only slow it down.
        ["resid_pdrop"] = 0.0,
        ["embd_pdrop"] = 0.0,
        ["attn_pdrop"] = 0.0,
        ["layer_norm_epsilon"] = 1e-5,
        ["initializer_range"] = 0.02,
        ["bos_token_id"] = Gpt2Vocabulary.EndOfTextId,
        ["eos_token_id"] = Gpt2Vocabulary.EndOfTextId,
        ["tie_word_embeddings"] = true,
    }.ToJsonString();

    /// <summary>
    /// Writes the untrained model: GPT-2's initialisation (transformers' _init_weights: N(0, 0.02) for embeddings and
    /// projections, N(0, 0.02 / sqrt(2 n_layer)) for the residual projections, zero biases, unit norms) drawn from
    /// <paramref name="seed"/>, with the tokenizer, tokenizer_config.json and generation_config.json.
    /// </summary>
    public static void WriteInitial(string dir, long seed)
    {
        manual_seed(seed);
        using var model = ModelRegistry.Create(JsonConfig.Parse(ConfigJson(), Name + " config"));
        double residual = 0.02 / Math.Sqrt(2.0 * Layers);
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
                else if (name.Contains(".ln_", StringComparison.Ordinal) || name.StartsWith("transformer.ln_f", StringComparison.Ordinal)) p.fill_(1.0);
                else if (name.EndsWith("c_proj.weight", StringComparison.Ordinal)) p.normal_(0, residual);
                else p.normal_(0, 0.02);
            }
        ModelSaver.Save(model, dir);
        WriteTokenizerFiles(dir);
    }

    public static void WriteTokenizerFiles(string dir)
    {
        Gpt2Vocabulary.WriteFiles(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), new JsonObject
        {
            ["tokenizer_class"] = "GPT2Tokenizer",
            ["bos_token"] = Gpt2Vocabulary.EndOfText,
            ["eos_token"] = Gpt2Vocabulary.EndOfText,
            ["unk_token"] = Gpt2Vocabulary.EndOfText,
            ["add_prefix_space"] = false,
            ["model_max_length"] = Positions,
        }.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), new JsonObject
        {
            ["bos_token_id"] = Gpt2Vocabulary.EndOfTextId,
            ["eos_token_id"] = Gpt2Vocabulary.EndOfTextId,
            ["max_new_tokens"] = 40,
        }.ToJsonString());
    }

    /// <summary>
    /// The final folder: the run's last weights stored as float16 (half the bytes; every loader widens them to the dtype it
    /// runs in), the tokenizer files, and back in the embedding rows of the tokens the corpus never uses, their random
    /// initialisation. Pretraining held those rows at zero (<see cref="CorpusSoftmax"/>), which makes such a token's logit
    /// 0 whatever the hidden state: no adapter that leaves the embeddings alone could ever make the model say it. With
    /// the initial N(0, 0.02) rows (where a full-softmax pretraining would have started them too) the logits stay near 0
    /// and an adapter can reach them. Returns the parameter count and how many rows were given back.
    /// </summary>
    public static (long Parameters, int Restored) WriteFinal(string initDir, string checkpointDir, string outDir)
    {
        using var model = AutoModel.FromPretrained(initDir);
        var embedding = model.InputEmbeddings.weight!;
        using var initial = embedding.detach().clone();
        Checkpoints.RestoreWeights(checkpointDir, null, model);
        int restored;
        using (NewDisposeScope())
        using (no_grad())
        {
            var zero = embedding.abs().sum(1).eq(0);
            restored = (int)zero.sum().item<long>();
            embedding.index_put_(initial.index(zero), zero);
        }
        long parameters = model.parameters().Sum(p => p.numel());
        model.to(ScalarType.Float16);
        ModelSaver.Save(model, outDir, initDir);
        return (parameters, restored);
    }

    /// <summary>The mean next-token loss with the full 50,257-way softmax of a model folder on [batch, block] id blocks.</summary>
    public static double FullSoftmaxLoss(string modelDir, IReadOnlyList<long[]> blocks)
    {
        using var model = AutoModel.FromPretrained(modelDir);
        double sum = 0;
        long count = 0;
        using var _ = no_grad();
        for (int i = 0; i < blocks.Count; i += BatchSize)
        {
            using var scope = NewDisposeScope();
            var chunk = blocks.Skip(i).Take(BatchSize).ToArray();
            var ids = tensor(chunk.SelectMany(b => b).ToArray()).reshape(chunk.Length, -1);
            var logits = model.forward(new ModelInputs { InputIds = ids }).Logits!;
            var targets = ids[.., 1..].reshape(-1);
            sum += nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, logits.shape[^1]), targets, reduction: nn.Reduction.Sum).item<float>();
            count += targets.shape[0];
        }
        return sum / count;
    }

    public static string Number(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
}
