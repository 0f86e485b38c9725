using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Training;
using PeftSharp.Tuners;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// An unlabelled pool for <c>peft select</c> and <c>peft pseudo-label</c>, with the model and adapter that score it:
/// classification pools need no label field (the adapter's peftsharp_task.json gives the labels); instruction pools
/// carry the answers whose perplexity is scored.
/// </summary>
internal sealed class PoolInput : IDisposable
{
    private PoolInput(PretrainedModel model, string task, TaskKind kind, LabelMap? labels, IReadOnlyList<DataRecord> records,
        IReadOnlyList<TokenizedExample> examples, Collator collator)
    {
        Model = model;
        Task = task;
        Kind = kind;
        Labels = labels;
        Records = records;
        Examples = examples;
        Collator = collator;
    }

    public PretrainedModel Model { get; }
    public string Task { get; }
    public TaskKind Kind { get; }
    public LabelMap? Labels { get; }
    public IReadOnlyList<DataRecord> Records { get; }
    public IReadOnlyList<TokenizedExample> Examples { get; }
    public Collator Collator { get; }

    public static PoolInput Load(string modelDir, string adapterDir, string poolPath, int? maxLength, string? deviceName)
    {
        if (!Directory.Exists(adapterDir)) throw new PeftException($"{adapterDir}: adapter folder not found");
        var device = Devices.Parse(deviceName);
        var issues = new DataIssueLog(MalformedRecordPolicy.Skip, i => Console.Error.WriteLine($"peft: skipped {i}"));
        var info = TaskInfo.Read(adapterDir);
        var records = DataFileReader.ReadAll(poolPath, issues);
        if (records.Count == 0) throw new PeftException($"{poolPath}: the pool has no records");
        string task = info?.Task ?? TaskInference.Resolve(null, adapterDir, records, modelDir).Task;
        ITrainingTask trainingTask;
        LabelMap? labels = null;
        var tokenizer = Tokenization.AutoTokenizer.FromFolder(modelDir);
        if (task == "classification")
        {
            labels = info?.Labels is { } names ? LabelMap.FromNames(names)
                : throw new PeftException($"{adapterDir}: the adapter records no labels (peftsharp_task.json); train it with peft train, or evaluate it on labelled data with peft eval");
            trainingTask = new ClassificationTask(tokenizer, labels) { MaxLength = maxLength ?? info.MaxLength, IgnoreLabels = true };
        }
        else
        {
            trainingTask = EvaluationInput.Read(modelDir, adapterDir, poolPath, task, "all", maxLength, issues).TrainingTask;
        }
        var model = task == "classification"
            ? BaseModelLoading.LoadClassifier(modelDir, labels!.Count, info?.Pooling ?? "cls", device)
            : BaseModelLoading.Load(modelDir, device);
        try
        {
            var peft = PeftModel.Load(model, adapterDir);
            foreach (var w in peft.Warnings) BaseModelLoading.Warn(w);
            var examples = trainingTask.Tokenize(records, issues);
            if (examples.Count == 0) throw new PeftException($"{poolPath}: no record of the pool is usable for the {task} task");
            var collator = Collator.For(tokenizer, new CollatorOptions { DecoderStartTokenId = model is IEncoderDecoder ed ? ed.DecoderStartTokenId : null });
            return new PoolInput(model, task, trainingTask.Kind, labels, records, examples, collator);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The records of the tokenized examples, in their order (a record the task skipped has no example).</summary>
    public IReadOnlyList<DataRecord> ExampleRecords()
    {
        var byOrigin = Records.GroupBy(r => r.Location).ToDictionary(g => g.Key, g => g.First());
        return Examples.Select(e => byOrigin[$"{e.Source}:{e.Line}"]).ToList();
    }

    public void Dispose() => Model.Dispose();
}
