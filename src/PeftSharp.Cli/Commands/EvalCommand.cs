using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PeftSharp.Data;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using PeftSharp.Tuners;
using Spectre.Console;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft eval</c>: the task's metrics for a model (and adapter) on a data file: accuracy, F1 and MCC for
/// classification, perplexity for language modelling, and BLEU/chrF/ROUGE on generations when asked.
/// An adapter trained by PeftSharp carries its task and labels (peftsharp_task.json), so nothing needs repeating.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string?>("--adapter") { Description = "Adapter folder to evaluate with" };
        var data = new Option<string>("--data") { Description = "Data file (.jsonl, .csv, .parquet)", Required = true };
        var task = new Option<string?>("--task") { Description = "auto | classification | causal-lm | instruction | seq2seq (default auto: the adapter's, else from the data's fields, else the model's architecture)" };
        var split = new Option<string>("--split") { Description = "Which rows of a file with a split column: validation (default), train, all", DefaultValueFactory = _ => "validation" };
        var metrics = new Option<string?>("--metrics") { Description = "Also generate and score: comma-separated bleu, chrf, chrf++, rouge (seq2seq, instruction)" };
        var batch = new Option<int>("--batch-size") { Description = "Batch size", DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int?>("--max-length") { Description = "Truncate inputs to this many tokens (default: the adapter's, else 128)" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Generation length for --metrics", DefaultValueFactory = _ => 64 };
        var json = new Option<bool>("--json") { Description = "Print the metrics as JSON" };
        var device = CommonOptions.Device();
        var cmd = new Command("eval", "Evaluate a model (and adapter) on a data file with the task's metrics")
        {
            model, adapter, data, task, split, metrics, batch, maxLength, maxNew, json, device,
        };
        var quantization = CommonOptions.Quantization();
        quantization.AddTo(cmd);
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapter), r.GetValue(data)!, r.GetValue(task), r.GetValue(split)!,
            r.GetValue(metrics), r.GetValue(batch), r.GetValue(maxLength), r.GetValue(maxNew), r.GetValue(json), r.GetValue(device), quantization.Read(r))));
        return cmd;
    }

    private static int Run(string modelDir, string? adapterDir, string dataPath, string? taskName, string split, string? metricList,
        int batchSize, int? maxLength, int maxNewTokens, bool json, string? deviceName, Models.Quantization.QuantizationConfig? quantization)
    {
        var device = Devices.Parse(deviceName);
        var issues = new DataIssueLog(MalformedRecordPolicy.Skip, i => Console.Error.WriteLine($"peft: skipped {i}"));
        var (task, trainingTask, labels, records, tokenizer, info, _) = EvaluationInput.Read(modelDir, adapterDir, dataPath, taskName, split, maxLength, issues);
        using var model = task == "classification"
            ? BaseModelLoading.LoadClassifier(modelDir, labels!.Count, info?.Pooling ?? "cls", device, quantization)
            : BaseModelLoading.Load(modelDir, device, quantization: quantization);
        if (adapterDir != null)
        {
            var peft = PeftModel.Load(model, adapterDir);
            foreach (var w in peft.Warnings) BaseModelLoading.Warn(w);
        }
        var examples = trainingTask.Tokenize(records, issues);
        var collator = Collator.For(tokenizer, new CollatorOptions { DecoderStartTokenId = model is IEncoderDecoder ed ? ed.DecoderStartTokenId : null });
        var loader = new DataLoader(examples, collator, batchSize, 0, shuffle: false);
        var results = Evaluator.Evaluate(model, trainingTask.Kind, loader.Epoch(0), device);
        if (metricList != null)
        {
            if (task is not ("seq2seq" or "instruction")) throw new PeftException("--metrics scores generations: use it with --task seq2seq or instruction");
            var generation = new GenerationOptions { MaxNewTokens = maxNewTokens, StopTokenIds = tokenizer.EosTokenId is { } e ? [e] : [], PadTokenId = tokenizer.PadTokenId ?? 0 };
            var (input, reference) = task == "seq2seq" ? ("source", "target") : ("prompt", "completion");
            foreach (var (k, v) in GenerationScorer.Score(model, tokenizer, records, task, metricList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), generation, input, reference, batchSize))
                results[k] = v;
        }
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { model = modelDir, adapter = adapterDir, data = dataPath, task, examples = examples.Count, metrics = results }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (k, v) in results) table.AddRow(k, v.ToString(k is "accuracy" or "f1" or "mcc" or "loss" ? "F4" : "F2", CultureInfo.InvariantCulture));
        var console = Terminal.Out();
        console.MarkupLine(Markup.Escape($"{task} on {examples.Count:N0} examples of {dataPath}" + (labels != null ? $" (labels {labels})" : "")));
        console.Write(table);
        return 0;
    }
}
