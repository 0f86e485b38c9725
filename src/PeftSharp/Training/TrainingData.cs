using PeftSharp.Data;
using PeftSharp.Tokenization;

namespace PeftSharp.Training;

/// <summary>
/// The tokenized train and validation sets of a run, built from the options: files read with malformed
/// records reported, the split (a separate file, the data's split column, or a seeded fraction), and the task.
/// </summary>
public sealed class TrainingData
{
    private TrainingData(ITrainingTask task, IReadOnlyList<TokenizedExample> train, IReadOnlyList<TokenizedExample> validation, LabelMap? labels, DataIssueLog issues,
        string splitDescription, InstructionFormat? format, IReadOnlyList<DataRecord> validationRecords)
    {
        ValidationRecords = validationRecords;
        Format = format;
        SplitDescription = splitDescription;
        Task = task;
        Train = train;
        Validation = validation;
        Labels = labels;
        Issues = issues;
    }

    public ITrainingTask Task { get; }
    public IReadOnlyList<TokenizedExample> Train { get; }
    public IReadOnlyList<TokenizedExample> Validation { get; }
    /// <summary>The validation records as read, which the adapter keeps as this round's set for later rounds (<see cref="Rounds.RetentionSets"/>).</summary>
    public IReadOnlyList<DataRecord> ValidationRecords { get; }
    public LabelMap? Labels { get; }
    public DataIssueLog Issues { get; }
    /// <summary>Instruction data: how its records became text (recorded in the adapter for generation).</summary>
    public InstructionFormat? Format { get; }
    /// <summary>Which split was used and its sizes, in words, for logs and the report.</summary>
    public string SplitDescription { get; }

    public static TrainingData Build(TrainingOptions o, ITextTokenizer tokenizer, Action<string>? log = null)
    {
        var issues = new DataIssueLog(o.SkipMalformed ? MalformedRecordPolicy.Skip : MalformedRecordPolicy.Fail,
            issue => log?.Invoke($"skipped {issue}"));
        if (string.IsNullOrEmpty(o.TrainData)) throw new PeftException("no training data: set train_data (--data)");
        o = TaskInference.Resolve(o, log);
        var records = DataFileReader.ReadAll(o.TrainData, issues);
        DataSplit<DataRecord> split;
        string how;
        if (o.ValidationData != null)
        {
            split = new DataSplit<DataRecord>(records, DataFileReader.ReadAll(o.ValidationData, issues), []);
            how = "validation file";
        }
        else if (DatasetSplit.HasSplitColumn(records))
        {
            split = DatasetSplit.ByColumn(records, issues);
            how = "the data's split column";
        }
        else
        {
            split = DatasetSplit.TrainValidation(records, o.ValidationFraction, o.Seed);
            how = $"{o.ValidationFraction:P0} held out with seed {o.Seed}";
        }
        if (split.Validation.Count == 0) throw new PeftException($"{o.TrainData}: no validation records (set validation_fraction or validation_data)");

        LabelMap? labels = null;
        InstructionFormat? format = o.Task == "instruction"
            ? InstructionFormat.From(o.Template, o.Model, split.Train.Concat(split.Validation).Any(r => r.Fields.ContainsKey("messages")))
            : null;
        ITrainingTask task = o.Task switch
        {
            "classification" => new ClassificationTask(tokenizer, labels = LabelMap.FromRecords(split.Train, o.LabelField ?? "label", $"the training data ({o.TrainData})"))
            {
                TextField = o.TextField ?? "text", LabelField = o.LabelField ?? "label", MaxLength = o.MaxLength,
            },
            "causal-lm" => new CausalLmTask(tokenizer, o.BlockSize) { TextField = o.TextField ?? "text" },
            "instruction" => new InstructionTask(tokenizer, format!.Template)
            {
                Chat = format.Chat, ChatForPrompts = format.ChatForPrompts,
                PromptField = o.PromptField ?? "prompt", CompletionField = o.CompletionField ?? "completion", MaxLength = o.MaxLength,
            },
            "seq2seq" => new Seq2SeqTask(tokenizer)
            {
                SourceField = o.SourceField ?? "source", TargetField = o.TargetField ?? "target", MaxSourceLength = o.MaxLength, MaxTargetLength = o.MaxLength,
            },
            _ => throw new PeftException($"task \"{o.Task}\" is not one of classification, causal-lm, instruction, seq2seq"),
        };
        // The sizes said are of the records kept: tokenizing skips some (too long, a missing field) after the split.
        int skipped = issues.SkippedCount;
        var train = task.Tokenize(split.Train, issues);
        int trainKept = Math.Max(0, split.Train.Count - (issues.SkippedCount - skipped));
        skipped = issues.SkippedCount;
        var validation = task.Tokenize(split.Validation, issues);
        int validationKept = Math.Max(0, split.Validation.Count - (issues.SkippedCount - skipped));
        if (issues.SkippedCount > 0) log?.Invoke(issues.Summary());
        var description = $"{how}: {NumberText.Count(trainKept)} train, {NumberText.Count(validationKept)} validation"
            + (split.Other.Count > 0 ? $", {NumberText.Count(split.Other.Count)} in other splits" : "");
        log?.Invoke($"data: {description}");
        return new TrainingData(task, train, validation, labels, issues, description, format, split.Validation);
    }
}
