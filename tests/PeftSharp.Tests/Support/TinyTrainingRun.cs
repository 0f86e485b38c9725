using System.Text.Json.Nodes;
using PeftSharp.Models;
using PeftSharp.Training;

namespace PeftSharp.Tests.Support;

/// <summary>
/// A tiny BERT model folder (MiniLM's real uncased vocabulary, 2 layers of width 32) and small synthetic
/// sentiment data a tiny model can learn, so training tests exercise the real pipeline in seconds.
/// </summary>
public sealed class TinyTrainingRun : IDisposable
{
    /// <param name="layers">Layers of the tiny BERT (2 unless a test needs more, such as three layer groups).</param>
    public TinyTrainingRun(int examples = 96, int layers = 2)
    {
        Root = Directory.CreateTempSubdirectory("peft-train-").FullName;
        ModelDir = Path.Combine(Root, "model");
        using (var model = TinyModels.Create(TinyModels.Bert(c =>
        {
            c["vocab_size"] = 30522;
            c["hidden_dropout_prob"] = 0.1;
            c["architectures"] = new JsonArray("BertModel");
            c["num_hidden_layers"] = layers;
        }), perturb: false))
            ModelSaver.Save(model, ModelDir);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers", "minilm", "vocab.txt"), Path.Combine(ModelDir, "vocab.txt"));
        DataFile = Path.Combine(Root, "data.jsonl");
        // Sentences whose label a model can learn quickly: the sentiment word decides it, the rest is filler.
        string[] filler = ["the", "food", "movie", "was", "really", "quite", "service", "phone", "and", "this", "plot", "staff"];
        var random = new Random(5);
        var lines = Enumerable.Range(0, examples).Select(i =>
        {
            int label = i % 2;
            var words = Enumerable.Range(0, 6).Select(_ => filler[random.Next(filler.Length)]).ToList();
            words.Insert(random.Next(words.Count + 1), label == 1 ? "great" : "awful");
            return new JsonObject { ["text"] = string.Join(' ', words), ["label"] = label }.ToJsonString();
        });
        File.WriteAllLines(DataFile, lines);
    }

    public string Root { get; }
    public string ModelDir { get; }
    public string DataFile { get; }

    public TrainingOptions Options(string name) => new()
    {
        Model = ModelDir,
        TrainData = DataFile,
        Output = Path.Combine(Root, name),
        BatchSize = 8,
        Epochs = 2,
        MaxLength = 24,
        LearningRate = 1e-3,
        Rank = 4,
        Dropout = 0.1,
        ValidationFraction = 0.25,
        Seed = 7,
    };

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
