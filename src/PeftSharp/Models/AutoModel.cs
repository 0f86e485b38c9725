using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models.Common;
using PeftSharp.Models.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Loads a Hugging Face model folder (config.json + safetensors) into the matching PeftSharp model,
/// on the device and in the dtype asked for. The one entry point for "give me a model from disk".
/// A bitsandbytes 4-bit checkpoint (config.json quantization_config) loads as it does in transformers: its quantized
/// linear layers stay 4-bit, holding the file's own codes and scales (<see cref="ModelQuantizer.FromCheckpoint"/>).
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
        // A base that will be 4-bit is built without initialising its linear layers (ModelLayers): each is filled by the
        // checkpoint and quantized before the next, or replaced by the file's 4-bit layer unread, so the float model is
        // never in memory at once.
        PretrainedModel model;
        using (bnb4Bit || QuantizesWhileLoading(quantization, device, dtype) ? ModelLayers.WithoutInitialisation() : null)
            model = ModelRegistry.Create(config);
        return LoadWeights(model, modelDir, bnb4Bit ? config : null, device, dtype, unusedKeys: unusedKeys, warn: warn, quantization: quantization);
    }

    /// <summary>
    /// Layers are quantized as they load for a float32 model on the CPU; another dtype or device keeps the order of the
    /// float path (convert or move, then quantize), so that the 4-bit codes are made from the same values.
    /// </summary>
    private static bool QuantizesWhileLoading(QuantizationConfig? quantization, Device? device, ScalarType dtype) =>
        quantization != null && dtype == ScalarType.Float32 && (device is null || device.type == DeviceType.CPU);

    /// <summary>Fills a freshly built model from the folder's checkpoint, then moves it; disposes it on failure.</summary>
    /// <param name="bnb4Bit">The folder's config when it is a bitsandbytes 4-bit checkpoint, else null.</param>
    private static PretrainedModel LoadWeights(PretrainedModel model, string modelDir, JsonConfig? bnb4Bit, Device? device, ScalarType dtype,
        Func<string, bool>? newModules = null, Action<IReadOnlyList<string>>? unusedKeys = null, Action<string>? warn = null,
        QuantizationConfig? quantization = null)
    {
        try
        {
            using var checkpoint = Bnb4BitCheckpoint.Wrap(CheckpointReader.OpenFolder(modelDir), bnb4Bit != null, Path.Combine(modelDir, "config.json"));
            if (checkpoint is Bnb4BitCheckpoint stored)
            {
                // The 4-bit layers take the file's codes and scales as they are, before anything else is loaded (no
                // weight is dequantized); the loader then fills the rest, biases of those layers included, in the
                // dtype and on the device the model already has.
                if (dtype != ScalarType.Float32) model.to(dtype);
                if (device != null && device.type != DeviceType.CPU) model.to(device);
                KeepStored4Bit(model, stored, bnb4Bit!, quantization);
                var owned = Bnb4BitLayout.Owns(ModelQuantizer.Layers(model));
                var unused = WeightLoader.Load(model, stored, modelDir, newModules, warn, inPlace: n => owned(n) && !n.EndsWith(".bias", StringComparison.Ordinal));
                unusedKeys?.Invoke(unused);
            }
            else
            {
                var whileLoading = QuantizesWhileLoading(quantization, device, dtype) ? ModelQuantizer.WhileLoading(model, quantization!) : null;
                var unused = WeightLoader.Load(model, checkpoint, modelDir, newModules, warn, afterEach: whileLoading);
                unusedKeys?.Invoke(unused);
                if (dtype != ScalarType.Float32) model.to(dtype);
                if (device != null && device.type != DeviceType.CPU) model.to(device);
                if (quantization != null) ModelQuantizer.Quantize(model, quantization);
            }
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
    /// A 4-bit checkpoint stays in its own 4 bits. Asking for the 4-bit type it already has (to set the compute dtype) is
    /// fine; asking for another would quantize its dequantized weights a second time, which is refused rather than done
    /// quietly.
    /// </summary>
    private static int KeepStored4Bit(PretrainedModel model, Bnb4BitCheckpoint checkpoint, JsonConfig config, QuantizationConfig? quantization)
    {
        var stored = checkpoint.QuantizedKeys.Count > 0 ? checkpoint.StateOf(checkpoint.QuantizedKeys[0]) : null;
        if (quantization != null && stored != null && (quantization.Type != stored.QuantType || quantization.DoubleQuant != stored.Nested))
            throw new PeftException($"{config.Source}: the checkpoint is already bitsandbytes {FourBitTypes.Name(stored.QuantType)}"
                + $"{(stored.Nested ? " with double quantization" : "")}; quantizing it as {quantization} would quantize its dequantized weights "
                + "again. Leave out the 4-bit options (it loads in its own 4 bits), or give the same ones to set the compute dtype");
        return ModelQuantizer.FromCheckpoint(model, checkpoint, quantization?.ComputeDType ?? BnbQuantizationConfig.ComputeDType(config));
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
        var bnb4Bit = BnbQuantizationConfig.IsBnb4Bit(config) ? config : null;
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
