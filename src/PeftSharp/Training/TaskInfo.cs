using System.Text.Json;
using PeftSharp.IO;

namespace PeftSharp.Training;

/// <summary>
/// What an adapter was trained for, written beside PEFT's files as peftsharp_task.json: the task, the
/// label names in class-id order, the classifier pooling and the maximum length. PEFT ignores the file;
/// <c>peft eval</c> uses it to rebuild the same head and labels without being told again.
/// </summary>
public sealed record TaskInfo(string Task, IReadOnlyList<string>? Labels, string Pooling, int MaxLength)
{
    public const string FileName = "peftsharp_task.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public void Write(string adapterDir) => AtomicFile.WriteAllText(Path.Combine(adapterDir, FileName), JsonSerializer.Serialize(this, Json));

    public static TaskInfo? Read(string adapterDir)
    {
        var path = Path.Combine(adapterDir, FileName);
        if (!File.Exists(path)) return null;
        var json = JsonConfig.Load(path);
        return new TaskInfo(json.GetString("task"), json.GetStringList("labels"), json.GetString("pooling", "cls")!, json.GetInt("max_length", 128)!.Value);
    }
}
