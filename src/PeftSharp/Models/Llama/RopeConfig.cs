using PeftSharp.IO;

namespace PeftSharp.Models.Llama;

/// <summary>Rotary position embedding settings: theta, and the rope_scaling variants transformers supports for Llama.</summary>
public sealed record RopeConfig(double Theta, int Dim, int MaxPositions, string Type, double Factor,
    double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositions)
{
    public static RopeConfig From(JsonConfig raw, int headDim, int maxPositions)
    {
        double theta = raw.GetDouble("rope_theta", 10000.0)!.Value;
        double partial = raw.GetDouble("partial_rotary_factor", 1.0)!.Value;
        if (partial != 1.0) throw new PeftException($"{raw.Source}: partial_rotary_factor {partial} is not supported");
        var scaling = raw.GetObject("rope_scaling");
        if (scaling == null) return new RopeConfig(theta, headDim, maxPositions, "default", 1, 1, 4, maxPositions);
        string type = scaling.GetString("rope_type", null) ?? scaling.GetString("type", null)
            ?? throw new PeftException($"{raw.Source}: rope_scaling needs \"rope_type\"");
        if (type == "default") return new RopeConfig(theta, headDim, maxPositions, "default", 1, 1, 4, maxPositions);
        if (type is not ("linear" or "dynamic" or "llama3"))
            throw new PeftException($"{raw.Source}: rope_scaling type \"{type}\" is not supported (supported: default, linear, dynamic, llama3)");
        double factor = scaling.GetDouble("factor");
        if (factor < 1) throw new PeftException($"{raw.Source}: rope_scaling factor must be >= 1, got {factor}");
        return type == "llama3"
            ? new RopeConfig(theta, headDim, maxPositions, type, factor,
                scaling.GetDouble("low_freq_factor"), scaling.GetDouble("high_freq_factor"),
                scaling.GetInt("original_max_position_embeddings"))
            : new RopeConfig(theta, headDim, maxPositions, type, factor, 1, 4, maxPositions);
    }
}
