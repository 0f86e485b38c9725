using System.Text.Json;
using System.Text.Json.Serialization;
using PeftSharp.Data;

namespace PeftSharp.Training;

/// <summary>
/// Where a run is, written with every checkpoint as trainer_state.json: step, data position, best metric,
/// early-stopping patience, and the seed and options fingerprint that must match when resuming.
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
