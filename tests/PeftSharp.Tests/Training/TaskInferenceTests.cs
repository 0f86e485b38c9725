using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tests.IO;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training;

/// <summary>The task comes from the adapter, then the data's fields, then the model; a given task wins unless it contradicts the adapter.</summary>
public class TaskInferenceTests
{
    private static DataRecord Record(string json) =>
        new(JsonNode.Parse(json)!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value?.DeepClone()), "data.jsonl", 1);

    [Theory]
    [InlineData("""{"prompt": "Q", "completion": "A"}""", "instruction", "the data's prompt/completion fields")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}]}""", "instruction", "the data's messages field (chat)")]
    [InlineData("""{"source": "s", "target": "t"}""", "seq2seq", "the data's source/target fields")]
    [InlineData("""{"text": "t", "label": 1}""", "classification", "the data's text and label fields")]
    [InlineData("""{"sentence": "t", "label": 1}""", "classification", "the data's sentence and label fields")]
    [InlineData("""{"text": "t"}""", "causal-lm", "the data's text field (no label)")]
    public void The_data_s_fields_name_the_task(string record, string task, string from)
    {
        var inferred = TaskInference.FromData([Record(record)], new TaskInference.Fields());
        Assert.Equal(task, inferred!.Task);
        Assert.Equal(from, inferred.From);
        Assert.Equal($"task: {task} (from {from})", inferred.ToString());
    }

    [Fact]
    public void Field_options_are_honoured_and_unknown_fields_fall_through_to_the_model()
    {
        var fields = new TaskInference.Fields(Text: "review", Label: "stars");
        Assert.Equal("classification", TaskInference.FromData([Record("""{"review": "t", "stars": 4}""")], fields)!.Task);
        Assert.Equal("causal-lm", TaskInference.FromData([Record("""{"review": "t", "label": 4}""")], fields)!.Task);
        Assert.Null(TaskInference.FromData([Record("""{"question": "q"}""")], new TaskInference.Fields()));

        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), """{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}""");
        var inferred = TaskInference.Resolve(null, null, [Record("""{"question": "q"}""")], dir.Path);
        Assert.Equal("task: causal-lm (from the model's architecture GPT2LMHeadModel)", inferred.ToString());
    }

    [Theory]
    [InlineData("""{"model_type": "bert", "architectures": ["BertForSequenceClassification"]}""", "classification")]
    [InlineData("""{"model_type": "bert", "architectures": ["BertModel"]}""", "classification")]
    [InlineData("""{"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]}""", "seq2seq")]
    [InlineData("""{"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}""", "causal-lm")]
    [InlineData("""{"model_type": "llama"}""", "causal-lm")]
    public void The_model_s_architecture_names_the_task_last(string config, string task)
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), config);
        Assert.Equal(task, TaskInference.FromModel(dir.Path)!.Task);
    }

    private static string Adapter(string root, string? taskType, TaskInfo? info = null)
    {
        var dir = Path.Combine(root, "adapter-" + (taskType ?? "none"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, PeftModel.ConfigFile), new JsonObject { ["peft_type"] = "LORA", ["task_type"] = taskType }.ToJsonString());
        info?.Write(dir);
        return dir;
    }

    [Fact]
    public void The_adapter_comes_first_and_its_task_type_is_refined_by_the_data()
    {
        using var root = new TempDir();
        var causal = Adapter(root.Path, "CAUSAL_LM");
        Assert.Equal("task: causal-lm (from the adapter's task_type CAUSAL_LM)", TaskInference.Resolve(null, causal, null, null).ToString());
        Assert.Equal("task: instruction (from the adapter's task_type CAUSAL_LM and the data's prompt/completion fields)",
            TaskInference.Resolve("auto", causal, [Record("""{"prompt": "Q", "completion": "A"}""")], null).ToString());
        var classifier = Adapter(root.Path, "SEQ_CLS", new TaskInfo("classification", ["neg", "pos"], "cls", 64));
        var inferred = TaskInference.Resolve(null, classifier, [Record("""{"prompt": "Q", "completion": "A"}""")], null);
        Assert.Equal($"task: classification (from the adapter's {TaskInfo.FileName})", inferred.ToString());
        Assert.Contains("looks like instruction data", inferred.Warning);
    }

    [Fact]
    public void A_given_task_wins_unless_it_contradicts_the_adapter()
    {
        using var root = new TempDir();
        var causal = Adapter(root.Path, "CAUSAL_LM");
        Assert.Equal("task: instruction (as given)", TaskInference.Resolve("instruction", causal, [Record("""{"text": "t", "label": 1}""")], null).ToString());
        var e = Assert.Throws<PeftException>(() => TaskInference.Resolve("classification", causal, null, null));
        Assert.Contains("task classification contradicts the adapter", e.Message);
        Assert.Contains(Path.Combine(causal, PeftModel.ConfigFile), e.Message);
        Assert.Contains("task_type CAUSAL_LM", e.Message);
        Assert.Throws<PeftException>(() => TaskInference.Resolve("regression", null, null, null));
    }

    [Fact]
    public void Options_left_on_auto_get_the_inferred_task_and_the_one_line()
    {
        using var dir = new TempDir();
        var data = Path.Combine(AppContext.BaseDirectory, "data", "examples", "chat.jsonl");
        var lines = new List<string>();
        var resolved = TaskInference.Resolve(new TrainingOptions { TrainData = data }, lines.Add);
        Assert.Equal("instruction", resolved.Task);
        Assert.Equal(["task: instruction (from the data's messages field (chat))"], lines);
        Assert.Equal("classification", TaskInference.Resolve(new TrainingOptions { Task = "classification", TrainData = data }, lines.Add).Task);
        Assert.Single(lines);
    }

    [Fact]
    public void A_label_error_names_the_data_it_is_about()
    {
        var e = Assert.Throws<PeftException>(() => LabelMap.FromRecords([Record("""{"text": "t"}""")], "label", "the evaluation data (eval.jsonl)"));
        Assert.Contains("the evaluation data (eval.jsonl) has none", e.Message);
    }

    [Fact]
    public void An_adapter_made_from_the_library_records_the_task_type_of_its_model()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        using var model = TinyModels.Create(TinyModels.Gpt2());
        PeftModel.Create(model, TunerRegistry.Named("lora")!.CreateConfig(new MethodSettings { Rank = 2, Alpha = 4 })).Save(dir.Path);
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, PeftModel.ConfigFile)))!;
        Assert.Equal("CAUSAL_LM", saved["task_type"]!.GetValue<string>());
        Assert.Equal("task: causal-lm (from the adapter's task_type CAUSAL_LM)", TaskInference.Resolve(null, dir.Path, null, null).ToString());
    }
}
