using System.Text.Json;
using PeftSharp.IO;

namespace PeftSharp.Training;

/// <summary>
/// What an adapter was trained for, written beside PEFT's files as peftsharp_task.json: the task, the
/// label names in class-id order, the classifier pooling and the maximum length, and for instruction data the prompt
/// template and chat template family it was trained with. PEFT ignores the file; <c>peft eval</c>, <c>predict</c> and
/// <c>generate</c> use it to rebuild the same head, labels and prompt text without being told again.
/// </summary>
public sealed record TaskInfo(string Task, IReadOnlyList<string>? Labels, string Pooling, int MaxLength)
{
    public const string FileName = "peftsharp_task.json";

    /// <summary>Instruction data: the prompt/completion template (placeholders {prompt}, {completion}); null when none applied.</summary>
    public string? Template { get; init; }

    /// <summary>Instruction data rendered as chat: the template family (chatml, llama-3, ...) or "plain"; null for none.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>What a finished run writes beside its adapter.</summary>
    public static TaskInfo For(TrainingOptions o, TrainingData data) => new(o.Task, data.Labels?.Names, o.Pooling, o.MaxLength)
    {
        Template = data.Format?.RecordedTemplate,
        ChatTemplate = data.Format?.ChatName,
    };

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public void Write(string adapterDir) => AtomicFile.WriteAllText(Path.Combine(adapterDir, FileName), JsonSerializer.Serialize(this, Json));

    public static TaskInfo? Read(string adapterDir)
    {
        var path = Path.Combine(adapterDir, FileName);
        if (!File.Exists(path)) return null;
        var json = JsonConfig.Load(path);
        return new TaskInfo(json.GetString("task"), json.GetStringList("labels"), json.GetString("pooling", "cls")!, json.GetInt("max_length", 128)!.Value)
        {
            Template = json.GetString("template", null),
            ChatTemplate = json.GetString("chat_template", null),
        };
    }
}
