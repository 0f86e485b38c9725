using PeftSharp.IO;
using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// The "quantization_config" of a transformers config.json. PeftSharp reads one kind: bitsandbytes 4-bit
/// (quant_method "bitsandbytes", load_in_4bit true, bnb_4bit_quant_storage uint8 if given). Any other quantization
/// (8-bit bitsandbytes, GPTQ, AWQ, ...) is refused by name instead of loading its integer tensors as if they were
/// weights. The per-tensor quant_state in the checkpoint, not this block, says how each weight was quantized
/// (transformers reads it the same way), so quant type, double quant and block size here are not used.
/// </summary>
public static class BnbQuantizationConfig
{
    public const string Key = "quantization_config";

    /// <summary>True for a bitsandbytes 4-bit config, false when there is no quantization_config; throws for anything else.</summary>
    public static bool IsBnb4Bit(JsonConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var q = config.GetObject(Key);
        if (q == null) return false;
        var method = q.GetString("quant_method", null);
        if (method != "bitsandbytes")
            throw new PeftException($"{config.Source}: {Key}.quant_method is {(method == null ? "missing" : $"\"{method}\"")}; " +
                                    "PeftSharp reads bitsandbytes 4-bit checkpoints only (quant_method \"bitsandbytes\", load_in_4bit)");
        bool fourBit = q.GetBool("load_in_4bit", q.GetBool("_load_in_4bit", false));
        bool eightBit = q.GetBool("load_in_8bit", q.GetBool("_load_in_8bit", false));
        if (eightBit)
            throw new PeftException($"{config.Source}: {Key} is bitsandbytes 8-bit (load_in_8bit); PeftSharp reads 4-bit checkpoints only");
        if (!fourBit)
            throw new PeftException($"{config.Source}: {Key} is bitsandbytes but neither load_in_4bit nor load_in_8bit is true");
        var storage = q.GetString("bnb_4bit_quant_storage", "uint8");
        if (storage != "uint8")
            throw new PeftException($"{config.Source}: {Key}.bnb_4bit_quant_storage is \"{storage}\"; only uint8 storage is supported");
        return true;
    }

    /// <summary>bnb_4bit_compute_dtype of a bitsandbytes 4-bit config (float32 when absent, as bitsandbytes).</summary>
    public static ScalarType ComputeDType(JsonConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var name = config.GetObject(Key)?.GetString("bnb_4bit_compute_dtype", null);
        try
        {
            return name is null ? ScalarType.Float32 : Devices.ParseDType(name);
        }
        catch (PeftException e)
        {
            throw new PeftException($"{config.Source}: {Key}.bnb_4bit_compute_dtype: {e.Message}");
        }
    }
}
