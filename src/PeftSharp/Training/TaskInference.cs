using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Tuners;

namespace PeftSharp.Training;

/// <summary>
/// Which task a command works on when none is given, so that a causal LM, chat data or a saved adapter need no
/// <c>--task</c>. In order: the adapter (our task file, else its task_type), the data's fields (prompt/completion or
/// messages: instruction; source/target: seq2seq; text and label: classification; text alone: causal-lm), the model's
/// architecture. A task that is given still wins, except over an adapter made for another kind of task.
/// </summary>
public static class TaskInference
{
    public const string Auto = "auto";

    /// <summary>The tasks a user can name.</summary>
    public static IReadOnlyList<string> Tasks { get; } = ["classification", "causal-lm", "instruction", "seq2seq"];

    /// <summary>The task and where it came from ("the data's prompt/completion fields"; null when given); a warning when sources disagree.</summary>
    public sealed record Inferred(string Task, string? From, string? Warning = null)
    {
        /// <summary>The one line a command prints: "task: instruction (from the data's prompt/completion fields)".</summary>
        public override string ToString() => $"task: {Task} ({(From is null ? "as given" : "from " + From)})";
    }

    /// <summary>The field names the data is read with (null: the defaults and their usual aliases).</summary>
    public sealed record Fields(string? Text = null, string? Label = null, string? Prompt = null, string? Completion = null,
        string? Source = null, string? Target = null)
    {
        public static Fields Of(TrainingOptions o) => new(o.TextField, o.LabelField, o.PromptField, o.CompletionField, o.SourceField, o.TargetField);
    }

    /// <summary>
    /// The options with their task decided: unchanged when one is given (after checking it against from_adapter), else
    /// inferred from from_adapter, the training data's first records and the model, with the one line on <paramref name="log"/>.
    /// </summary>
    public static TrainingOptions Resolve(TrainingOptions o, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        bool auto = IsAuto(o.Task);
        var records = auto && !string.IsNullOrEmpty(o.TrainData) ? FirstRecords(o.TrainData) : null;
        var inferred = Resolve(o.Task, o.FromAdapter, records, string.IsNullOrEmpty(o.Model) ? null : o.Model, Fields.Of(o));
        if (inferred.Warning != null) log?.Invoke("warning: " + inferred.Warning);
        if (!auto) return o;
        log?.Invoke(inferred.ToString());
        return o with { Task = inferred.Task };
    }

    /// <summary>The task for a command: <paramref name="given"/> unless it is null or auto, else inferred in the documented order.</summary>
    public static Inferred Resolve(string? given, string? adapterDir, IEnumerable<DataRecord>? records, string? modelDir, Fields? fields = null)
    {
        fields ??= new Fields();
        var data = records is null ? null : FromData(records, fields);
        var adapter = adapterDir is null ? null : FromAdapter(adapterDir, data);
        if (!IsAuto(given))
        {
            if (!Tasks.Contains(given)) throw new PeftException($"task \"{given}\" is not one of auto, {string.Join(", ", Tasks)}");
            if (adapter is { TaskType: { } type } a && TaskOf(type) is { } adapterTask && Kind(adapterTask) != Kind(given!))
                throw new PeftException($"task {given} contradicts the adapter: {a.ConfigPath} has task_type {type}, an adapter for {adapterTask}; " +
                    "leave the task out (auto) to use the adapter's");
            return new Inferred(given!, null);
        }
        if (adapter?.Task is { } fromAdapter)
        {
            string? warning = data is { } d && Kind(d.Task) != Kind(fromAdapter.Task)
                ? $"the data looks like {d.Task} data ({d.From}), but the adapter is for {fromAdapter.Task}; using the adapter's task"
                : null;
            return fromAdapter with { Warning = warning };
        }
        if (data != null) return data;
        if (modelDir != null && FromModel(modelDir) is { } model) return model;
        throw new PeftException($"cannot tell the task from {(adapterDir ?? modelDir ?? "the inputs")}: set task (--task) to one of {string.Join(", ", Tasks)}");
    }

    private static bool IsAuto(string? task) => string.IsNullOrEmpty(task) || task == Auto;

    /// <summary>PEFT's task_type a task trains.</summary>
    public static TaskKind Kind(string task) => task switch
    {
        "classification" => TaskKind.SequenceClassification,
        "seq2seq" => TaskKind.Seq2SeqLm,
        _ => TaskKind.CausalLm,
    };

    private static string? TaskOf(string taskType) => taskType switch
    {
        TaskTypes.SequenceClassification => "classification",
        TaskTypes.Seq2SeqLm => "seq2seq",
        TaskTypes.CausalLm => "causal-lm",
        _ => null,
    };

    private sealed record AdapterTask(string ConfigPath, string? TaskType, Inferred? Task);

    private static AdapterTask FromAdapter(string dir, Inferred? data)
    {
        var configPath = Path.Combine(dir, "adapter_config.json");
        string? type = File.Exists(configPath) ? JsonConfig.Load(configPath).GetString("task_type", null) : null;
        if (TaskInfo.Read(dir) is { } info && Tasks.Contains(info.Task))
            return new AdapterTask(configPath, type, new Inferred(info.Task, $"the adapter's {TaskInfo.FileName}"));
        if (type is null || TaskOf(type) is not { } task) return new AdapterTask(configPath, type, null);
        // CAUSAL_LM covers both language-model tasks; the data says which when it can.
        if (task == "causal-lm" && data is { Task: "instruction" })
            return new AdapterTask(configPath, type, new Inferred("instruction", $"the adapter's task_type {type} and {data.From}"));
        return new AdapterTask(configPath, type, new Inferred(task, $"the adapter's task_type {type}"));
    }

    /// <summary>The task the first records' fields describe, or null when they name none of the tasks' fields.</summary>
    public static Inferred? FromData(IEnumerable<DataRecord> records, Fields fields)
    {
        string[] text = fields.Text is { } t ? [t] : ["text", "sentence"];
        string label = fields.Label ?? "label", prompt = fields.Prompt ?? "prompt", completion = fields.Completion ?? "completion";
        string source = fields.Source ?? "source", target = fields.Target ?? "target";
        foreach (var r in records.Take(FirstRecordCount))
        {
            if (r.Has("messages")) return new("instruction", "the data's messages field (chat)");
            if (r.Has(prompt) && r.Has(completion)) return new("instruction", $"the data's {prompt}/{completion} fields");
            if (r.Has(source) && r.Has(target)) return new("seq2seq", $"the data's {source}/{target} fields");
            if (text.FirstOrDefault(r.Has) is { } textField)
                return r.Has(label)
                    ? new("classification", $"the data's {textField} and {label} fields")
                    : new("causal-lm", $"the data's {textField} field (no {label})");
        }
        return null;
    }

    private const int FirstRecordCount = 20;

    private static IReadOnlyList<DataRecord> FirstRecords(string path) =>
        DataFileReader.Read(path, new DataIssueLog(MalformedRecordPolicy.Skip)).Take(FirstRecordCount).ToList();

    /// <summary>The task the model folder's architecture is made for (config.json architectures, else its model_type).</summary>
    public static Inferred? FromModel(string modelDir)
    {
        var path = Path.Combine(modelDir, "config.json");
        if (!File.Exists(path)) return null;
        var config = JsonConfig.Load(path);
        var architecture = (config.GetStringList("architectures") ?? []).FirstOrDefault();
        string? task = architecture is null ? null : TaskTypes.FromArchitecture(architecture) switch
        {
            TaskTypes.FeatureExtraction => "classification", // a bare encoder: the task PeftSharp trains on one
            { } type => TaskOf(type),
            null => null,
        };
        if (task != null) return new(task, $"the model's architecture {architecture}");
        var modelType = config.GetString("model_type", null);
        task = modelType switch
        {
            "gpt2" or "llama" or "mistral" or "qwen2" => "causal-lm",
            "t5" => "seq2seq",
            "bert" => "classification",
            _ => null,
        };
        return task is null ? null : new(task, $"the model's model_type {modelType}");
    }
}
