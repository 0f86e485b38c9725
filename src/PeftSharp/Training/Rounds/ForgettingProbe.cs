using PeftSharp.Data;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// Forgetting during a run (option <c>forgetting</c>): the original's behaviour on the general text is measured once,
/// with the adapters disabled (or before the first step when there are none, as in full fine-tuning), and written to the
/// run folder (forgetting-reference.safetensors) so a resume compares with the same reference; every evaluation then adds
/// the drift metrics to its own (<see cref="MetricKeys"/>). Language models get <see cref="LanguageModelDrift"/>,
/// classifiers and encoders <see cref="EmbeddingDrift"/>; seq2seq models are not measured (said in the log).
/// </summary>
public sealed class ForgettingProbe : IDisposable
{
    public const string ReferenceFile = "forgetting-reference.safetensors";

    /// <summary>The keys the probe adds to an evaluation's metrics; the report shows them apart from the task's.</summary>
    public static readonly IReadOnlySet<string> MetricKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        LanguageModelDrift.LossKey, LanguageModelDrift.ForgettingKey, EmbeddingDrift.CosineKey, EmbeddingDrift.OverlapKey,
    };

    private readonly IDriftMeasure _measure;
    private Dictionary<string, Tensor>? _reference;

    private ForgettingProbe(IDriftMeasure measure, string what)
    {
        _measure = measure;
        Description = what;
    }

    /// <summary>What is measured on which text, for the log and the report.</summary>
    public string Description { get; }

    /// <summary>The probe for this run, or null when forgetting is off or cannot be measured for the task (with the reason logged).</summary>
    public static ForgettingProbe? For(TrainingOptions o, TaskKind kind, PretrainedModel model, PeftModel? peft, ITextTokenizer tokenizer, Action<string> log)
    {
        if (o.Forgetting == "off") return null;
        if (kind == TaskKind.Seq2SeqLm)
        {
            log("forgetting: not measured for seq2seq models (no general-text measure is defined for an encoder-decoder here); set forgetting: off to silence this");
            return null;
        }
        var texts = GeneralText.Load(o.ForgettingData, o.ForgettingSamples);
        // Within the model's positions, less those prompt methods put in front of every input.
        int added = peft?.Configs.Values.Max(c => c.AddedPositions) ?? 0;
        int maxLength = Math.Max(2, Math.Min(o.ForgettingMaxLength, (model.Config.PositionLimit ?? int.MaxValue) - added));
        string source = o.ForgettingData ?? GeneralText.BundledName;
        return kind == TaskKind.SequenceClassification
            ? new ForgettingProbe(new EmbeddingDrift(model, tokenizer, texts, maxLength),
                $"embedding agreement with the original on {texts.Count} texts of {source}")
            : new ForgettingProbe(new LanguageModelDrift(model, tokenizer, texts, maxLength),
                $"per-token cross-entropy on {texts.Count} texts of {source}, against the original");
    }

    /// <summary>
    /// Measures the original and writes the reference into <paramref name="runDir"/>, or, on a resume, reads it back (a run
    /// begun before the file existed measures it again when it can: disabling the adapters gives the original exactly).
    /// </summary>
    public void Begin(string runDir, bool resumed, PeftModel? peft, Action<string> log)
    {
        var path = Path.Combine(runDir, ReferenceFile);
        if (resumed && File.Exists(path))
        {
            using var file = SafetensorsFile.Open(path);
            _reference = file.LoadAll();
            return;
        }
        if (resumed && peft == null)
        {
            log($"forgetting: {path} is missing and the original weights are gone (no adapter to disable); not measured in this part of the run");
            return;
        }
        using (peft?.DisableAdapters()) _reference = _measure.Reference();
        Directory.CreateDirectory(runDir);
        SafetensorsWriter.Write(path, _reference);
    }

    /// <summary>The drift metrics of the model now; empty when there is no reference.</summary>
    public IReadOnlyDictionary<string, double> Measure() =>
        _reference == null ? new Dictionary<string, double>() : _measure.Compare(_reference);

    public void Dispose()
    {
        if (_reference != null)
            foreach (var t in _reference.Values) t.Dispose();
        _reference = null;
    }
}
