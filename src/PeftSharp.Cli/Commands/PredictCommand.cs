using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using static TorchSharp.torch;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft predict</c>: what a classifier adapter says about texts: each text's label and the probability of every
/// label, as a table-like line or JSON lines. The labels, pooling and length come from the adapter's task file
/// (else the model's id2label), so a trained adapter is used without repeating how it was trained.
/// </summary>
public static class PredictCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string>("--adapter") { Description = "Classifier adapter folder (as peft train writes it)", Required = true };
        var text = new Option<string[]>("--text", "-t") { Description = "A text to classify; repeatable", AllowMultipleArgumentsPerToken = false };
        var data = new Option<string?>("--data") { Description = "A data file (.jsonl, .csv, .parquet) whose text field to classify" };
        var textField = new Option<string?>("--text-field") { Description = "The data's text field (default text, else sentence)" };
        var json = new Option<bool>("--json") { Description = "One JSON object per text: {\"text\", \"label\", \"probabilities\"}" };
        var batch = new Option<int>("--batch-size") { Description = "Texts per forward pass", DefaultValueFactory = _ => 32 };
        var device = CommonOptions.Device();
        var cmd = new Command("predict", "Classify texts with a classifier adapter: each text's label and probabilities")
        {
            model, adapter, text, data, textField, json, batch, device,
        };
        var quantization = CommonOptions.Quantization();
        quantization.AddTo(cmd);
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapter)!, r.GetValue(text) ?? [], r.GetValue(data), r.GetValue(textField),
            r.GetValue(json), r.GetValue(batch), r.GetValue(device), quantization.Read(r))));
        return cmd;
    }

    private static int Run(string modelDir, string adapterDir, string[] texts, string? dataPath, string? textField, bool json, int batchSize, string? deviceName,
        Models.Quantization.QuantizationConfig? quantization)
    {
        if ((texts.Length > 0) == (dataPath != null)) throw new PeftException("give --text (one or more) or --data, not both");
        if (batchSize < 1) throw new PeftException("--batch-size must be at least 1");
        var task = TaskInference.Resolve(null, adapterDir, null, modelDir);
        if (task.Task != "classification")
            throw new PeftException($"{adapterDir} is an adapter for {task.Task} (from {task.From}), not a classifier; use peft generate --model {modelDir} --adapter {adapterDir} --prompt ...");
        var info = TaskInfo.Read(adapterDir);
        var labels = info?.Labels ?? ModelLabels(modelDir)
            ?? throw new PeftException($"{adapterDir}: no label names ({TaskInfo.FileName} is missing and {Path.Combine(modelDir, "config.json")} has no id2label)");
        var inputs = dataPath != null ? ReadTexts(dataPath, textField) : texts.ToList();
        var device = Devices.Parse(deviceName);
        var tokenizer = AutoTokenizer.FromFolder(modelDir);
        using var model = BaseModelLoading.LoadClassifier(modelDir, labels.Count, info?.Pooling ?? "cls", device, quantization);
        AdapterLoading.Load(model, [adapterDir], merge: false);
        var collator = Collator.For(tokenizer);
        int maxLength = info?.MaxLength ?? 128;
        for (int start = 0; start < inputs.Count; start += batchSize)
        {
            var chunk = inputs.Skip(start).Take(batchSize).ToList();
            float[][] probabilities;
            using (NewDisposeScope())
            using (no_grad())
            {
                var batch = collator.Collate(chunk.Select(t => new TokenizedExample { InputIds = Encode(tokenizer, t, maxLength), ClassLabel = 0 }).ToList());
                var logits = model.forward(batch.ToModelInputs(device)).Logits!;
                var p = nn.functional.softmax(logits.to_type(ScalarType.Float32), -1).cpu();
                probabilities = Enumerable.Range(0, chunk.Count).Select(i => p[i].data<float>().ToArray()).ToArray();
            }
            for (int i = 0; i < chunk.Count; i++)
            {
                int best = Array.IndexOf(probabilities[i], probabilities[i].Max());
                if (json)
                {
                    var byLabel = labels.Select((l, j) => (l, j)).ToDictionary(x => x.l, x => Math.Round((double)probabilities[i][x.j], 6));
                    Console.WriteLine(JsonSerializer.Serialize(new { text = chunk[i], label = labels[best], probabilities = byLabel }));
                }
                else
                {
                    var all = string.Join(", ", labels.Select((l, j) => string.Create(CultureInfo.InvariantCulture, $"{l} {probabilities[i][j]:F3}")));
                    Console.WriteLine($"{labels[best]}\t({all})\t{chunk[i]}");
                }
            }
        }
        return 0;
    }

    /// <summary>Ids as training made them: the text cut to leave room for the special tokens, which are kept.</summary>
    private static int[] Encode(ITextTokenizer tokenizer, string text, int maxLength)
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: false);
        int room = Math.Max(1, maxLength - tokenizer.AddSpecialTokens([]).Count);
        return tokenizer.AddSpecialTokens(ids.Count > room ? ids.Take(room).ToArray() : ids).ToArray();
    }

    private static List<string> ReadTexts(string path, string? field)
    {
        var issues = new DataIssueLog(MalformedRecordPolicy.Skip, i => Console.Error.WriteLine($"peft: skipped {i}"));
        string[] names = field is { } f ? [f] : ["text", "sentence"];
        var texts = new List<string>();
        foreach (var record in DataFileReader.Read(path, issues))
        {
            if (names.Select(record.GetString).FirstOrDefault(t => !string.IsNullOrWhiteSpace(t)) is { } t) texts.Add(t);
            else issues.Report(record, $"no text in {string.Join(" or ", names.Select(n => $"\"{n}\""))}");
        }
        if (texts.Count == 0) throw new PeftException($"{path}: no texts to classify (looked for {string.Join(", ", names)})");
        return texts;
    }

    /// <summary>id2label of the model's config.json, in id order, or null.</summary>
    private static IReadOnlyList<string>? ModelLabels(string modelDir)
    {
        var path = Path.Combine(modelDir, "config.json");
        if (!File.Exists(path) || JsonConfig.Load(path).GetObject("id2label") is not { } map) return null;
        var pairs = map.Root.Select(kv => (Id: int.TryParse(kv.Key, CultureInfo.InvariantCulture, out var id) ? id : -1, Name: kv.Value?.ToString() ?? "")).ToList();
        if (pairs.Any(p => p.Id < 0) || pairs.Select(p => p.Id).Order().SequenceEqual(Enumerable.Range(0, pairs.Count)) is false) throw new PeftException($"{path}: id2label must be keyed 0..{pairs.Count - 1}");
        return pairs.Count < 2 ? null : pairs.OrderBy(p => p.Id).Select(p => p.Name).ToList();
    }
}
