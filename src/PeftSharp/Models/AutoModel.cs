using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Loads a Hugging Face model folder (config.json + safetensors) into the matching PeftSharp model,
/// on the device and in the dtype asked for. The one entry point for "give me a model from disk".
/// A bitsandbytes 4-bit checkpoint (config.json quantization_config) is dequantized into the ordinary float model
/// (<see cref="Bnb4BitCheckpoint"/>).
/// </summary>
public static class AutoModel
{
    /// <summary>Reads config.json, builds the architecture, loads the weights, moves it to the device; returns it in eval mode.</summary>
    /// <param name="unusedKeys">Receives checkpoint keys the model did not use (normally none).</param>
    /// <param name="warn">Receives things the caller should tell the user: a task head the checkpoint lacks (bert-base-uncased
    /// under a BertForSequenceClassification config) is initialised randomly, listed in <see cref="PretrainedModel.FreshParameters"/>
    /// and named here, instead of refusing the folder.</param>
    /// <param name="quantization">Hold the linear layers in 4 bits (<see cref="ModelQuantizer"/>: QLoRA's frozen base); null keeps them float.</param>
    public static PretrainedModel FromPretrained(string modelDir, Device? device = null, ScalarType dtype = ScalarType.Float32,
        Action<IReadOnlyList<string>>? unusedKeys = null, Action<string>? warn = null, QuantizationConfig? quantization = null)
    {
        var config = LoadConfig(modelDir);
        bool bnb4Bit = BnbQuantizationConfig.IsBnb4Bit(config);
        return LoadWeights(ModelRegistry.Create(config), modelDir, bnb4Bit, device, dtype, unusedKeys: unusedKeys, warn: warn, quantization: quantization);
    }

    /// <summary>Fills a freshly built model from the folder's checkpoint, then moves it; disposes it on failure.</summary>
    private static PretrainedModel LoadWeights(PretrainedModel model, string modelDir, bool bnb4Bit, Device? device, ScalarType dtype,
        Func<string, bool>? newModules = null, Action<IReadOnlyList<string>>? unusedKeys = null, Action<string>? warn = null,
        QuantizationConfig? quantization = null)
    {
        try
        {
            using var checkpoint = Bnb4BitCheckpoint.Wrap(CheckpointReader.OpenFolder(modelDir), bnb4Bit, Path.Combine(modelDir, "config.json"));
            var unused = WeightLoader.Load(model, checkpoint, modelDir, newModules, warn);
            unusedKeys?.Invoke(unused);
            if (dtype != ScalarType.Float32) model.to(dtype);
            if (device != null && device.type != DeviceType.CPU) model.to(device);
            if (quantization != null) ModelQuantizer.Quantize(model, quantization);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A sequence classifier from any BERT-family folder: a bare encoder (MiniLM) gets a new, randomly
    /// initialised classifier with numLabels outputs; a folder that already has a matching head keeps it.
    /// pooling: "cls" (BERT's pooler, as transformers) or "mean" (mean of the token states).
    /// A folder whose config promises a matching head that its checkpoint lacks is loaded as <see cref="FromPretrained"/> does (warn).
    /// </summary>
    public static PretrainedModel ForSequenceClassification(string modelDir, int numLabels, string pooling = "cls", Device? device = null,
        ScalarType dtype = ScalarType.Float32, Action<string>? log = null, Action<string>? warn = null, QuantizationConfig? quantization = null)
    {
        var config = LoadConfig(modelDir);
        var type = config.GetString("model_type", null);
        if (type != "bert") throw new PeftException($"{modelDir}: sequence classification is available for BERT-family models (model_type bert), not \"{type}\"");
        if (pooling is not ("cls" or "mean")) throw new PeftException($"pooling must be cls or mean, not \"{pooling}\"");
        bool bnb4Bit = BnbQuantizationConfig.IsBnb4Bit(config);
        var root = (System.Text.Json.Nodes.JsonObject)config.Root.DeepClone();
        int existing = config.GetInt("num_labels", null) ?? config.GetObject("id2label")?.Root.Count ?? 0;
        bool hadHead = (config.GetStringList("architectures") ?? []).Contains("BertForSequenceClassification") && existing == numLabels;
        root["architectures"] = new System.Text.Json.Nodes.JsonArray("BertForSequenceClassification");
        root["num_labels"] = numLabels;
        root.Remove("id2label");
        root.Remove("label2id");
        root[Bert.BertConfig.PoolingKey] = pooling;
        var model = ModelRegistry.Create(new JsonConfig(root, config.Source));
        using (no_grad())
            foreach (var (name, p) in model.named_parameters().Where(p => p.name.StartsWith("classifier.", StringComparison.Ordinal)))
                if (name.EndsWith("weight", StringComparison.Ordinal)) p.normal_(0, 0.02); else p.zero_();
        model = LoadWeights(model, modelDir, bnb4Bit, device, dtype, newModules: n => !hadHead && n.StartsWith("classifier.", StringComparison.Ordinal), warn: warn,
            quantization: quantization);
        if (!hadHead) log?.Invoke($"new classification head with {numLabels} labels ({pooling} pooling), initialised randomly");
        return model;
    }

    /// <summary>The parsed config.json of a model folder, with errors that say what is wrong with the folder.</summary>
    public static JsonConfig LoadConfig(string modelDir)
    {
        if (File.Exists(modelDir)) throw new PeftException($"{modelDir}: expected a model folder, got a file");
        if (!Directory.Exists(modelDir)) throw new PeftException($"{modelDir}: the model folder does not exist");
        var path = Path.Combine(modelDir, "config.json");
        if (!File.Exists(path)) throw new PeftException($"{modelDir}: not a Hugging Face model folder (no config.json)");
        return JsonConfig.Load(path);
    }
}
