using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Loads a Hugging Face model folder (config.json + safetensors) into the matching PeftSharp model,
/// on the device and in the dtype asked for. The one entry point for "give me a model from disk".
/// </summary>
public static class AutoModel
{
    /// <summary>Reads config.json, builds the architecture, loads the weights, moves it to the device; returns it in eval mode.</summary>
    /// <param name="unusedKeys">Receives checkpoint keys the model did not use (normally none).</param>
    public static PretrainedModel FromPretrained(string modelDir, Device? device = null, ScalarType dtype = ScalarType.Float32,
        Action<IReadOnlyList<string>>? unusedKeys = null)
    {
        var config = LoadConfig(modelDir);
        var model = ModelRegistry.Create(config);
        try
        {
            using var checkpoint = CheckpointReader.OpenFolder(modelDir);
            var unused = WeightLoader.Load(model, checkpoint, modelDir);
            unusedKeys?.Invoke(unused);
            if (dtype != ScalarType.Float32) model.to(dtype);
            if (device != null && device.type != DeviceType.CPU) model.to(device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The parsed config.json of a model folder, with errors that say what is wrong with the folder.</summary>
    public static JsonConfig LoadConfig(string modelDir)
    {
        if (File.Exists(modelDir)) throw new PeftException($"{modelDir}: expected a model folder, got a file");
        if (!Directory.Exists(modelDir)) throw new PeftException($"{modelDir}: folder not found");
        var path = Path.Combine(modelDir, "config.json");
        if (!File.Exists(path)) throw new PeftException($"{modelDir}: not a Hugging Face model folder (no config.json)");
        return JsonConfig.Load(path);
    }
}
