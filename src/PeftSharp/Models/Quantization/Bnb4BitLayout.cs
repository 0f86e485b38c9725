using System.Text.Json.Nodes;
using PeftSharp.Models.Gpt2;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// A model with <see cref="Linear4bit"/> layers written as transformers + bitsandbytes write a 4-bit model
/// (save_pretrained after load_in_4bit), so that <c>AutoModelForCausalLM.from_pretrained</c> loads it as it is and
/// <see cref="Bnb4BitCheckpoint"/> reads it back to the same bytes. For a 4-bit layer with prefix P the file holds
/// P.weight (uint8 [ceil(n / 2), 1], the packed codes), P.weight.absmax (float32, or uint8 indices with double
/// quantization), P.weight.quant_map (the 16-value NF4/FP4 table), with double quantization P.weight.nested_absmax and
/// P.weight.nested_quant_map (the 8-bit dynamic map), P.weight.quant_state.bitsandbytes__nf4 (or __fp4: the JSON of
/// <see cref="QuantStateJson.ToBytes"/>) and P.bias if the layer has one; every other parameter and buffer is written
/// under its own name, in its own dtype. config.json gains the quantization_config block transformers writes.
/// </summary>
public static class Bnb4BitLayout
{
    /// <summary>transformers' BitsAndBytesConfig.to_dict() for these layers (the first layer's settings: every layer a
    /// <see cref="ModelQuantizer"/> makes shares them; the per-tensor quant_state is what a loader reads).</summary>
    public static JsonObject Config(PretrainedModel model, IReadOnlyList<(string Name, Linear4bit Layer)> layers)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (layers.Count == 0) throw new ArgumentException("no 4-bit layers", nameof(layers));
        var first = layers[0].Layer;
        // transformers leaves the output head in float by default (modules_to_not_convert); any other linear layer
        // left in float here (a new classifier) must be named, or transformers would quantize it on load.
        var quantized = layers.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        var floatLinears = ModuleTree.NamedModules(model).Where(m => m.Module is Linear or Conv1D && m.Name.Length > 0 && !quantized.Contains(m.Name))
            .Select(m => m.Name).ToList();
        bool onlyHead = floatLinears.All(n => n == model.OutputHeadName);
        return new JsonObject
        {
            ["_load_in_4bit"] = true,
            ["_load_in_8bit"] = false,
            ["bnb_4bit_compute_dtype"] = DTypeName(first.ComputeDType),
            ["bnb_4bit_quant_storage"] = "uint8",
            ["bnb_4bit_quant_type"] = FourBitTypes.Name(first.QuantType),
            ["bnb_4bit_use_double_quant"] = first.DoubleQuant,
            ["llm_int8_enable_fp32_cpu_offload"] = false,
            ["llm_int8_has_fp16_weight"] = false,
            ["llm_int8_skip_modules"] = onlyHead ? null : new JsonArray(floatLinears.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()),
            // Written as 6.0, not 6: BitsAndBytesConfig refuses an int threshold ("llm_int8_threshold must be a float").
            ["llm_int8_threshold"] = JsonNode.Parse("6.0"),
            ["load_in_4bit"] = true,
            ["load_in_8bit"] = false,
            ["quant_method"] = "bitsandbytes",
        };
    }

    /// <summary>The tensors of the 4-bit layers under bitsandbytes' keys (views of the layers' buffers, on the CPU).</summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> Tensors(IEnumerable<(string Name, Linear4bit Layer)> layers)
    {
        foreach (var (name, layer) in layers)
        {
            var p = name + ".weight";
            var typeName = FourBitTypes.Name(layer.QuantType);
            yield return new(p, layer.get_buffer("weight")!.cpu());
            yield return new(p + ".absmax", layer.get_buffer("absmax")!.cpu());
            yield return new(p + ".quant_map", tensor(FourBitCodes.Table(layer.QuantType)));
            if (layer.DoubleQuant)
            {
                yield return new(p + ".nested_absmax", layer.get_buffer("nested_absmax")!.cpu());
                yield return new(p + ".nested_quant_map", layer.get_buffer("nested_code")!.cpu());
            }
            yield return new(p + Bnb4BitCheckpoint.QuantStateInfix + typeName, tensor(layer.StateJson().ToBytes()));
            if (layer.Bias is { } bias) yield return new(name + ".bias", bias.detach().cpu());
        }
    }

    /// <summary>True for a parameter or buffer name that belongs to one of the 4-bit layers (written by <see cref="Tensors"/> instead).</summary>
    public static Func<string, bool> Owns(IEnumerable<(string Name, Linear4bit Layer)> layers)
    {
        var prefixes = layers.Select(l => l.Name + ".").ToList();
        return key => prefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal) && key.IndexOf('.', p.Length) < 0);
    }

    private static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        _ => throw new PeftException($"{t} is not a 4-bit compute dtype"),
    };
}
