using System.Text.Json;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// A run's check of earlier rounds (<see cref="RetentionSets"/>): every set is evaluated example by example on the model
/// the run starts from (kept in the run folder as retention-before.json, so a resume compares with the same start) and
/// on the weights the run writes, and compared (<see cref="SetComparison"/>: metrics, right→wrong, wrong→right). The
/// sets are tokenized by the run's own task, so classification uses the run's labels.
/// </summary>
public sealed class RetentionCheck
{
    public const string BeforeFile = "retention-before.json";

    private readonly List<(RetentionSet Set, IReadOnlyList<TokenizedExample> Examples)> _sets;
    private readonly TrainingData _data;
    private readonly TrainingOptions _options;
    private Dictionary<string, ExampleOutcome[]>? _before;

    private RetentionCheck(TrainingOptions options, TrainingData data, IReadOnlyList<RetentionSet> all, List<(RetentionSet, IReadOnlyList<TokenizedExample>)> sets)
    {
        _options = options;
        _data = data;
        All = all;
        _sets = sets;
    }

    /// <summary>Every set, including any that tokenized to nothing (they are still recorded in the adapter).</summary>
    public IReadOnlyList<RetentionSet> All { get; }

    /// <summary>The sets of <c>from_adapter</c> and <c>retain_data</c>, tokenized; an empty check when there are none.</summary>
    public static RetentionCheck For(TrainingOptions o, TrainingData data, Action<string> log)
    {
        var issues = new DataIssueLog(MalformedRecordPolicy.Skip, i => log($"retain data: skipped {i}"));
        var all = RetentionSets.ForRun(o.FromAdapter, o.RetainData, issues);
        var sets = new List<(RetentionSet, IReadOnlyList<TokenizedExample>)>();
        foreach (var set in all)
        {
            var examples = data.Task.Tokenize(set.Records, issues);
            if (examples.Count == 0) log($"retain data: {set.Name} ({set.Source}) has no example this task can use; not checked");
            else sets.Add((set, examples));
        }
        if (sets.Count > 0) log($"earlier rounds: {string.Join(", ", sets.Select(s => $"{s.Item1.Name} ({s.Item2.Count:N0} examples)"))} checked before and after");
        return new RetentionCheck(o, data, all, sets);
    }

    public bool IsEmpty => _sets.Count == 0;

    /// <summary>Evaluates the starting model on every set and writes the outcomes to the run folder, or reads them back on a resume.</summary>
    public void Begin(string runDir, bool resumed, PretrainedModel model, Collator collator, Device device, Action<string> log)
    {
        if (IsEmpty) return;
        var path = Path.Combine(runDir, BeforeFile);
        if (resumed)
        {
            if (File.Exists(path)) _before = Read(path);
            else log($"earlier rounds: {path} is missing; the sets are not compared in this part of the run");
            return;
        }
        _before = _sets.ToDictionary(s => s.Set.Name, s => ExampleOutcome.Evaluate(model, _data.Task.Kind, s.Examples, collator, _options.BatchSize, device).ToArray());
        Directory.CreateDirectory(runDir);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(_before));
    }

    /// <summary>Each set compared between the start and the model as it is now (the weights being written).</summary>
    public IReadOnlyList<SetComparison> Compare(PretrainedModel model, Collator collator, Device device)
    {
        if (_before == null) return [];
        var result = new List<SetComparison>();
        foreach (var (set, examples) in _sets)
        {
            if (!_before.TryGetValue(set.Name, out var before) || before.Length != examples.Count) continue;
            var after = ExampleOutcome.Evaluate(model, _data.Task.Kind, examples, collator, _options.BatchSize, device);
            var texts = set.Records.GroupBy(r => r.Location).ToDictionary(g => g.Key, g => ShownText(g.First()));
            result.Add(SetComparison.Of(set.Name, set.Source, before, after, o => texts.GetValueOrDefault(o, o), id => LabelName(id)));
        }
        return result;
    }

    private string LabelName(long id) => _data.Labels is { } labels && id >= 0 && id < labels.Count ? labels.Names[(int)id] : id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private string ShownText(DataRecord r) =>
        SetComparison.ShownText(r, _options.TextField ?? "text", _options.PromptField ?? "prompt", _options.SourceField ?? "source");

    private static Dictionary<string, ExampleOutcome[]> Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, ExampleOutcome[]>>(File.ReadAllText(path)) ?? throw new PeftException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new PeftException($"{path}: not a retention record ({e.Message})");
        }
    }
}
