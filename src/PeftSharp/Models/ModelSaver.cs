using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Writes a model as an ordinary Hugging Face folder (config.json, model.safetensors, and the tokenizer
/// and generation files of the folder it came from), so a merged model loads anywhere without PeftSharp.
/// A model holding 4-bit layers is written in transformers + bitsandbytes' 4-bit layout (<see cref="Quantization.Bnb4BitLayout"/>).
/// The folder is written through <see cref="AtomicFolder"/> (temporary sibling, fsync, rename into place), so
/// an interrupted save never leaves a half-written model under the final name. Only a missing or empty folder is
/// replaced: a merged model never overwrites one that exists.
/// </summary>
public static class ModelSaver
{
    private static readonly string[] CopiedFiles =
    [
        "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
        "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "added_tokens.json",
    ];

    public static void Save(PretrainedModel model, string outDir, string? sourceDir = null)
    {
        var full = Path.GetFullPath(outDir);
        AtomicFolder.RequireEmpty(outDir);
        AtomicFolder.Write(full, temp =>
        {
            var names = model.named_parameters().Select(p => p.name).ToHashSet();
            var config = (JsonObject)model.Config.Raw.Root.DeepClone();
            // A head that was tied but now has its own trained weights must be saved untied.
            if (model.TiedParameters.Keys.Any(names.Contains)) config["tie_word_embeddings"] = false;
            config["architectures"] = new JsonArray(model.ArchitectureName);
            // 4-bit layers are written in bitsandbytes' layout with the quantization block transformers reads; a model
            // without them (a 4-bit base dequantized for a merge) is a float model and must not claim one.
            var fourBit = Quantization.ModelQuantizer.Layers(model).ToList();
            if (fourBit.Count > 0) config[Quantization.BnbQuantizationConfig.Key] = Quantization.Bnb4BitLayout.Config(model, fourBit);
            else config.Remove(Quantization.BnbQuantizationConfig.Key);
            var owned = Quantization.Bnb4BitLayout.Owns(fourBit);
            File.WriteAllText(Path.Combine(temp, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            using (var scope = NewDisposeScope())
            {
                var tensors = model.named_parameters().Where(p => !owned(p.name)).Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach().cpu().contiguous()))
                    .Concat(model.named_buffers().Where(b => !names.Contains(b.name) && !owned(b.name)).Select(b => new KeyValuePair<string, Tensor>(b.name, b.buffer.detach().cpu().contiguous())))
                    .Concat(Quantization.Bnb4BitLayout.Tensors(fourBit));
                SafetensorsWriter.Write(Path.Combine(temp, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            }
            if (sourceDir != null)
                foreach (var file in CopiedFiles.Where(f => File.Exists(Path.Combine(sourceDir, f))))
                    File.Copy(Path.Combine(sourceDir, file), Path.Combine(temp, file));
        }, overwrite: true);
    }
}
