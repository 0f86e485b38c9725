using PeftSharp.Data;
using PeftSharp.Tokenization;
using PeftSharp.Training;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// A data file ready to evaluate on, for <c>peft eval</c> and <c>peft compare</c>: the records of the split asked for, the
/// task (given, the adapter's, or inferred), and the task's tokenizer-bound form with the labels and template the adapter
/// was trained with (its peftsharp_task.json), so an evaluation scores the same text the training did.
/// </summary>
internal sealed record EvaluationInput(string Task, ITrainingTask TrainingTask, LabelMap? Labels, IReadOnlyList<DataRecord> Records,
    ITextTokenizer Tokenizer, TaskInfo? Info, int MaxLength)
{
    public static EvaluationInput Read(string modelDir, string? adapterDir, string dataPath, string? taskName, string split, int? maxLength, DataIssueLog issues)
    {
        var info = adapterDir != null ? TaskInfo.Read(adapterDir) : null;
        var records = DataFileReader.ReadAll(dataPath, issues);
        var inferred = TaskInference.Resolve(taskName, adapterDir, records, modelDir);
        if (inferred.Warning != null) BaseModelLoading.Warn(inferred.Warning);
        if (inferred.From != null) Console.Error.WriteLine($"peft: {inferred}");
        var task = inferred.Task;
        if (DatasetSplit.HasSplitColumn(records) && split != "all")
        {
            var s = DatasetSplit.ByColumn(records, issues);
            records = split switch { "train" => s.Train, "validation" => s.Validation, _ => throw new PeftException($"--split must be validation, train or all, not \"{split}\"") };
        }
        var tokenizer = AutoTokenizer.FromFolder(modelDir);
        var options = new TrainingOptions { Task = task, MaxLength = maxLength ?? info?.MaxLength ?? 128 };
        LabelMap? labels = null;
        ITrainingTask trainingTask = task switch
        {
            "classification" => new ClassificationTask(tokenizer, labels = info?.Labels is { } names ? LabelMap.FromNames(names) : LabelMap.FromRecords(records, what: $"the evaluation data ({dataPath})")) { MaxLength = options.MaxLength },
            "causal-lm" => new CausalLmTask(tokenizer, options.BlockSize),
            "instruction" => InstructionTaskFor(tokenizer, info, modelDir, records, options.MaxLength),
            "seq2seq" => new Seq2SeqTask(tokenizer) { MaxSourceLength = options.MaxLength, MaxTargetLength = options.MaxLength },
            _ => throw new PeftException($"--task must be classification, causal-lm, instruction or seq2seq, not \"{task}\""),
        };
        return new EvaluationInput(task, trainingTask, labels, records, tokenizer, info, options.MaxLength);
    }

    /// <summary>Instruction data in the template the adapter was trained with (or the default one), so the loss is on the same text.</summary>
    private static InstructionTask InstructionTaskFor(ITextTokenizer tokenizer, TaskInfo? info, string modelDir, IReadOnlyList<DataRecord> records, int maxLength)
    {
        var format = InstructionFormat.Recorded(info?.Template, info?.ChatTemplate, modelDir, records.Any(r => r.Fields.ContainsKey("messages")));
        return new InstructionTask(tokenizer, format.Template) { MaxLength = maxLength, Chat = format.Chat, ChatForPrompts = format.ChatForPrompts };
    }
}
