using System.Text.Json;
using System.Text.Json.Serialization;
using PeftSharp.Data;

namespace PeftSharp.Training;

/// <summary>
/// Where a run is, written with every checkpoint as trainer_state.json: step, data position, best metric,
/// early-stopping patience, and the seed and options that must match when resuming. A run that ended writes its last
/// state into the run folder too, which is how a resume knows there is nothing left to do.
/// </summary>
public sealed record TrainerState
{
    public int Step { get; init; }
    public int Epoch { get; init; }
    public int Batch { get; init; }
    public long Seed { get; init; }
    public double? BestMetric { get; init; }
    public int? BestStep { get; init; }
    public int EvalsWithoutImprovement { get; init; }
    public long TokensSeen { get; init; }
    public double TrainSeconds { get; init; }
    /// <summary>Hash of the options that decide the result (data, model, method, hyperparameters).</summary>
    public string OptionsFingerprint { get; init; } = "";
    /// <summary>
    /// Every option of the run as config.yaml shows it, paths made absolute, so a resume can say which option differs;
    /// null in checkpoints of PeftSharp versions before this was recorded (the fingerprint decides for those).
    /// </summary>
    public IReadOnlyDictionary<string, string>? Options { get; init; }
    /// <summary>The steps the run was set to take when this was written.</summary>
    public int TotalSteps { get; init; }
    /// <summary>
    /// Set when Ctrl-C cut the evaluation due at this step: the epoch that evaluation belongs to. A resume runs it
    /// first, so the run evaluates where an uninterrupted one would have.
    /// </summary>
    public int? PendingEvaluationEpoch { get; init; }
    /// <summary>
    /// Written by an interruption at a step the run's schedule does not save. Such a checkpoint is only a place to resume
    /// from, never the best weights, so a resumed run ends with the adapter an uninterrupted one writes.
    /// </summary>
    public bool OffSchedule { get; init; }

    [JsonIgnore]
    public LoaderPosition Position => new(Epoch, Batch);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainerState Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Json) ?? throw new PeftException($"{path}: empty trainer state");
        }
        catch (JsonException e)
        {
            throw new PeftException($"{path}: invalid trainer state ({e.Message})", e);
        }
    }
}
