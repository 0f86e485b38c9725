using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PeftSharp.Embeddings;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using static TorchSharp.torch;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft embed</c>: mean-pooled sentence embeddings and their cosine similarities, the quickest check that an
/// imported encoder (MiniLM) behaves like the original.
/// </summary>
public static class EmbedCommand
{
    private const int ShownDims = 5;

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var texts = new Option<string[]>("--text", "-t") { Description = "Text to embed; repeatable", Required = true, AllowMultipleArgumentsPerToken = false };
        var json = new Option<bool>("--json") { Description = "Print full embeddings and similarities as JSON" };
        var normalize = new Option<bool>("--normalize") { Description = "L2-normalise the embeddings (as sentence-transformers' Normalize module)" };
        var maxLength = new Option<int?>("--max-length")
        {
            Description = "Truncate texts to this many tokens (default: max_seq_length of sentence_bert_config.json, else max_position_embeddings)",
        };
        var device = CommonOptions.Device();
        var cmd = new Command("embed", "Mean-pooled sentence embeddings of texts, and their pairwise cosine similarities") { model, texts, json, normalize, maxLength, device };
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(texts) ?? [], r.GetValue(json), r.GetValue(normalize),
            r.GetValue(maxLength), r.GetValue(device))));
        return cmd;
    }

    private static int Run(string modelDir, string[] texts, bool json, bool normalize, int? maxLength, string? deviceName)
    {
        if (texts.Length == 0) throw new PeftException("give at least one --text");
        var device = Devices.Parse(deviceName);
        using var model = BaseModelLoading.Load(modelDir, device);
        var tokenizer = AutoTokenizer.FromFolder(modelDir);
        int limit = maxLength ?? DefaultMaxLength(modelDir, model);
        if (limit <= 0) throw new PeftException($"--max-length must be positive, not {limit}");

        using var scope = NewDisposeScope();
        var embeddings = SentenceEmbedding.Encode(model, tokenizer, texts, limit, normalize);
        var rows = Enumerable.Range(0, texts.Length).Select(i => embeddings[i].data<float>().ToArray()).ToArray();
        var similarities = SentenceEmbedding.CosineSimilarities(embeddings);
        var matrix = Enumerable.Range(0, texts.Length)
            .Select(i => Enumerable.Range(0, texts.Length).Select(j => (double)similarities[i, j].item<float>()).ToArray()).ToArray();

        if (json)
        {
            var document = new
            {
                model = Path.GetFullPath(modelDir),
                pooling = "mean",
                normalized = normalize,
                embeddings = texts.Select((t, i) => new { text = t, embedding = rows[i] }),
                cosine_similarities = matrix,
            };
            Console.WriteLine(JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }

        for (int i = 0; i < texts.Length; i++)
        {
            double norm = Math.Sqrt(rows[i].Sum(x => (double)x * x));
            string head = string.Join(", ", rows[i].Take(ShownDims).Select(x => x.ToString("F4", CultureInfo.InvariantCulture)));
            Console.WriteLine($"[{i + 1}] {texts[i]}");
            Console.WriteLine($"    {rows[i].Length} dims, norm {norm.ToString("F4", CultureInfo.InvariantCulture)}: [{head}, ...]");
        }
        if (texts.Length > 1)
        {
            Console.WriteLine("cosine similarity:");
            for (int i = 0; i < texts.Length; i++)
                for (int j = i + 1; j < texts.Length; j++)
                    Console.WriteLine($"    [{i + 1}] vs [{j + 1}]: {matrix[i][j].ToString("F4", CultureInfo.InvariantCulture)}");
        }
        return 0;
    }

    /// <summary>sentence-transformers folders say how far they truncate; otherwise the model's position limit.</summary>
    private static int DefaultMaxLength(string modelDir, PretrainedModel model)
    {
        var path = Path.Combine(modelDir, "sentence_bert_config.json");
        if (File.Exists(path) && JsonConfig.Load(path).GetInt("max_seq_length", null) is { } max) return max;
        return model.Config.Raw.GetInt("max_position_embeddings", null) ?? 512;
    }
}
