using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// <c>peft analyze</c>: which modules of a pretrained model matter for a task. Reads the data and model as training does,
/// takes a seeded sample of the training split, fits a new task head first (so gradients reflect the task, not a random
/// classifier), then runs the asked estimators (<see cref="ImportanceEstimator"/>) in the order that leaves the model
/// usable for the next: gradients, condition numbers, and last LoRA-drop, whose warm-up wraps the model.
/// </summary>
public static class ModuleAnalysis
{
    /// <summary>Reports progress: the stage ("gradients", "lora-drop warm-up", ...), done and total.</summary>
    public delegate void Progress(string stage, int done, int total);

    /// <summary>Analyses the model and data the training options name (model, train_data, task and its fields, max_length, seed).</summary>
    public static AnalysisResult Run(TrainingOptions o, AnalysisSettings settings, Action<string>? log = null, Progress? progress = null)
    {
        o = TaskInference.Resolve(o, log);
        if (o.Threads > 0) set_num_threads(o.Threads);
        var device = Devices.Parse(o.Device);
        var tokenizer = AutoTokenizer.FromFolder(o.Model);
        var data = TrainingData.Build(o, tokenizer, log);
        manual_seed(o.Seed);
        using var model = data.Task.Kind == TaskKind.SequenceClassification
            ? AutoModel.ForSequenceClassification(o.Model, data.Labels!.Count, o.Pooling, device, log: log, warn: log)
            : AutoModel.FromPretrained(o.Model, device, warn: log);
        var collator = Collator.For(tokenizer, new CollatorOptions { DecoderStartTokenId = model is IEncoderDecoder ed ? ed.DecoderStartTokenId : null });
        return Run(model, data.Task.Kind, data.Train, collator, settings, o.Seed, device, o.Model, o.TrainData, o.Task, log, progress);
    }

    /// <summary>
    /// Analyses <paramref name="model"/> on <paramref name="examples"/>. The model is used up: its new head is fitted and
    /// LoRA-drop leaves a warm-up LoRA in it; dispose it afterwards.
    /// </summary>
    public static AnalysisResult Run(PretrainedModel model, TaskKind kind, IReadOnlyList<TokenizedExample> examples, Collator collator, AnalysisSettings settings,
        long seed, Device device, string modelName, string dataName, string task, Action<string>? log = null, Progress? progress = null)
    {
        foreach (var name in settings.Estimators) ImportanceEstimator.Named(name);
        var asked = settings.Estimators.Distinct().ToList();
        bool needsData = asked.Any(e => ImportanceEstimator.Named(e).NeedsData);
        if (needsData && examples.Count == 0) throw new PeftException($"{dataName}: no training examples to analyse");
        var sample = DataRandom.For(seed, stream: 0x616e616c).Permutation(examples.Count).Take(settings.Samples).Select(i => examples[i]).ToList();
        var candidates = ModuleCandidates.Of(model);
        if (candidates.Count == 0) throw new PeftException($"{modelName}: no linear layer, norm or bias to score");
        var notes = new List<string>();
        manual_seed(seed);

        if (needsData && model.FreshParameters.Count > 0 && settings.HeadSteps > 0)
        {
            var fresh = model.FreshParameters.ToHashSet(StringComparer.Ordinal);
            var head = model.named_parameters().Where(p => fresh.Contains(p.name)).ToList();
            var (first, last) = Warmup.Run(model, kind, head, sample, collator, settings.AnalysisBatchSize, settings.HeadSteps, settings.HeadLearningRate,
                seed, device, (d, t) => progress?.Invoke("fitting the new head", d, t));
            notes.Add($"fitted the new head ({string.Join(", ", fresh.Order())}) on the frozen model for {settings.HeadSteps} steps: loss {first:0.###} -> {last:0.###}");
            log?.Invoke(notes[^1]);
        }

        var reached = examples.Count > 0
            ? Reachability.Reached(model, kind, sample, collator, candidates, settings.AnalysisBatchSize, device)
            : candidates.Select(_ => true).ToArray();
        var unreached = candidates.Where((_, i) => !reached[i]).Select(c => c.Candidate.Name).ToList();
        if (unreached.Count > 0)
        {
            notes.Add($"not scored: {unreached.Count} candidate(s) the task loss does not depend on ({string.Join(", ", unreached.Take(6))}{(unreached.Count > 6 ? ", ..." : "")})");
            log?.Invoke(notes[^1]);
        }
        // What an unreached candidate scores does not count: NaN is "not scored" to the ranking.
        IReadOnlyList<double> Mask(IReadOnlyList<double> raw) => raw.Select((x, i) => reached[i] ? x : double.NaN).ToList();

        var scores = new Dictionary<string, IReadOnlyList<(int Index, ModuleScore Score)>>();
        bool sensitivity = asked.Contains(ImportanceEstimator.Sensitivity), fisher = asked.Contains(ImportanceEstimator.Fisher);
        if (sensitivity || fisher)
        {
            var g = GradientScores.Measure(model, kind, sample, collator, candidates, sensitivity, fisher, settings.AnalysisBatchSize, device,
                (d, t) => progress?.Invoke("gradients", d, t));
            if (g.Sensitivity is { } s) scores[ImportanceEstimator.Sensitivity] = AnalysisResult.Rank(Mask(s), g.Spread!.Select(x => double.IsNaN(x) ? null : (double?)x).ToList());
            if (g.Fisher is { } f) scores[ImportanceEstimator.Fisher] = AnalysisResult.Rank(Mask(f));
        }
        if (asked.Contains(ImportanceEstimator.Kappa))
        {
            var k = ConditionNumberScores.Measure(candidates, (d, t) => progress?.Invoke("condition numbers", d, t));
            scores[ImportanceEstimator.Kappa] = AnalysisResult.Rank(Mask(k.Select(x => x.Score).ToList()), raw: k.Select(x => double.IsNaN(x.Kappa) ? null : (double?)x.Kappa).ToList());
        }
        if (asked.Contains(ImportanceEstimator.LoraDrop))
        {
            var l = LoraDropScores.Measure(model, kind, sample, collator, candidates.Select(c => c.Candidate).ToList(), settings, seed, device,
                (stage, d, t) => progress?.Invoke(stage, d, t));
            scores[ImportanceEstimator.LoraDrop] = AnalysisResult.Rank(Mask(l));
            notes.Add($"lora-drop: LoRA r={settings.LoraDropRank} on every linear layer, {settings.LoraDropSteps} warm-up steps at learning rate {settings.LoraDropLearningRate:0.#####}");
        }

        var modules = candidates.Select((c, i) => new AnalyzedModule(c.Candidate,
            asked.Where(scores.ContainsKey).SelectMany(e => scores[e].Where(s => s.Index == i).Select(s => (e, s.Score))).ToDictionary(x => x.e, x => x.Score))).ToList();
        return new AnalysisResult
        {
            Model = modelName, Data = dataName, Task = task, Seed = seed, Samples = sample.Count, Estimators = asked, Modules = modules, Notes = notes,
        };
    }
}
