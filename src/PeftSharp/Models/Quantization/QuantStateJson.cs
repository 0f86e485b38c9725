using System.Globalization;
using System.Text.Json;
using PeftSharp.IO.Safetensors;
using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// The non-tensor part of a bitsandbytes QuantState as transformers saves it: tensor P.weight.quant_state.bitsandbytes__nf4
/// (or __fp4), uint8 bytes of a UTF-8 JSON object such as {"quant_type": "nf4", "blocksize": 64, "dtype": "float32",
/// "shape": [64, 128], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.0529...}
/// (QuantState.as_dict(packed=True)). Parsed strictly: every field checked, unknown or repeated fields refused, since
/// the numbers decide how many bytes the other tensors must have.
/// </summary>
public sealed record QuantStateJson(FourBitType QuantType, int BlockSize, ScalarType DType, long[] Shape, int? NestedBlockSize, float? NestedOffset)
{
    /// <summary>Far above any real header (about 170 bytes); the bound keeps a hostile file from costing memory.</summary>
    public const int MaxBytes = 64 * 1024;

    private const int MaxRank = 8;

    public bool Nested => NestedBlockSize != null;

    /// <summary>Parses the bytes; <paramref name="expected"/> is the type named by the key suffix, which quant_type must equal.</summary>
    public static QuantStateJson Parse(byte[] bytes, FourBitType expected, string file, string key)
    {
        SafetensorsFormatException Bad(string problem) => new(file, key, problem);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(file, key, $"quant_state is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            try
            {
                return FromJson(doc.RootElement, expected, Bad);
            }
            catch (InvalidOperationException e)
            {
                throw new SafetensorsFormatException(file, key, $"quant_state holds a string that is not valid text: {e.Message}", e);
            }
        }
    }

    private static QuantStateJson FromJson(JsonElement root, FourBitType expected, Func<string, SafetensorsFormatException> bad)
    {
        {
            if (root.ValueKind != JsonValueKind.Object) throw bad($"quant_state is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var p in root.EnumerateObject())
            {
                if (p.Name is not ("quant_type" or "blocksize" or "dtype" or "shape" or "nested_blocksize" or "nested_dtype" or "nested_offset"))
                    throw bad($"quant_state has an unexpected field \"{Truncate(p.Name)}\"");
                if (!fields.TryAdd(p.Name, p.Value)) throw bad($"quant_state field \"{p.Name}\" appears more than once");
            }
            JsonElement Required(string name) => fields.TryGetValue(name, out var v) ? v : throw bad($"quant_state has no \"{name}\"");

            var typeName = String(Required("quant_type"), "quant_type", bad);
            if (!FourBitTypes.TryParse(typeName, out var type)) throw bad($"quant_state quant_type \"{Truncate(typeName)}\" is not nf4 or fp4");
            if (type != expected) throw bad($"quant_state quant_type \"{typeName}\" contradicts the key, which says {FourBitTypes.Name(expected)}");

            long blockSize = Integer(Required("blocksize"), "blocksize", bad);
            if (!BlockSizes.IsAllowed(blockSize)) throw bad($"quant_state blocksize {blockSize} is not one bitsandbytes allows ({BlockSizes.AllowedText})");

            var dtypeName = String(Required("dtype"), "dtype", bad);
            var dtype = dtypeName switch
            {
                "float32" => ScalarType.Float32,
                "float16" => ScalarType.Float16,
                "bfloat16" => ScalarType.BFloat16,
                _ => throw bad($"quant_state dtype \"{Truncate(dtypeName)}\" is not float32, float16 or bfloat16"),
            };

            var shapeJson = Required("shape");
            if (shapeJson.ValueKind != JsonValueKind.Array || shapeJson.GetArrayLength() is 0 or > MaxRank)
                throw bad($"quant_state shape must be a list of 1 to {MaxRank} positive integers, got {Truncate(shapeJson.GetRawText())}");
            var shape = new long[shapeJson.GetArrayLength()];
            long n = 1;
            for (int i = 0; i < shape.Length; i++)
            {
                if (shapeJson[i].ValueKind != JsonValueKind.Number || !shapeJson[i].TryGetInt64(out shape[i]) || shape[i] <= 0)
                    throw bad($"quant_state shape must be a list of positive integers, got {Truncate(shapeJson.GetRawText())}");
                if (n > long.MaxValue / shape[i]) throw bad($"quant_state shape {Truncate(shapeJson.GetRawText())} has more elements than fit in 64 bits");
                n *= shape[i];
            }

            int nestedFields = (fields.ContainsKey("nested_blocksize") ? 1 : 0) + (fields.ContainsKey("nested_dtype") ? 1 : 0)
                               + (fields.ContainsKey("nested_offset") ? 1 : 0);
            if (nestedFields == 0) return new QuantStateJson(type, (int)blockSize, dtype, shape, null, null);
            if (nestedFields != 3) throw bad("quant_state has some but not all of nested_blocksize, nested_dtype and nested_offset");

            long nestedBlockSize = Integer(fields["nested_blocksize"], "nested_blocksize", bad);
            if (!BlockSizes.IsAllowed(nestedBlockSize))
                throw bad($"quant_state nested_blocksize {nestedBlockSize} is not one of {BlockSizes.AllowedText}");
            var nestedDtype = String(fields["nested_dtype"], "nested_dtype", bad);
            if (nestedDtype != "float32") throw bad($"quant_state nested_dtype \"{Truncate(nestedDtype)}\" is not float32");
            var offsetJson = fields["nested_offset"];
            if (offsetJson.ValueKind != JsonValueKind.Number || !offsetJson.TryGetDouble(out var offset) || !double.IsFinite(offset)
                || !float.IsFinite((float)offset))
                throw bad($"quant_state nested_offset must be a finite number, got {Truncate(offsetJson.GetRawText())}");
            // QuantState.from_dict: torch.tensor(float(nested_offset)), a float32 (the JSON double is the float32 offset written exactly)
            return new QuantStateJson(type, (int)blockSize, dtype, shape, (int)nestedBlockSize, (float)offset);
        }
    }

    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>The JSON of a 4-bit layer's state, as <see cref="ToBytes"/> writes it.</summary>
    public static QuantStateJson Of(FourBitType type, int blockSize, ScalarType dtype, long[] shape, int? nestedBlockSize, float? nestedOffset) =>
        new(type, blockSize, dtype, (long[])shape.Clone(), nestedBlockSize, nestedOffset);

    /// <summary>
    /// The bytes bitsandbytes writes (QuantState.as_dict(packed=True): Python's json.dumps of the non-tensor items, in
    /// its key order, with ", " and ": " separators and the offset as Python's repr of the float32 value widened to a
    /// double), so a checkpoint written here holds the same quant_state tensors as one written by transformers.
    /// </summary>
    public byte[] ToBytes()
    {
        var dtype = DType switch
        {
            ScalarType.Float32 => "float32",
            ScalarType.Float16 => "float16",
            ScalarType.BFloat16 => "bfloat16",
            _ => throw new PeftException($"a 4-bit weight's dtype must be float32, float16 or bfloat16, not {DType}"),
        };
        var text = new System.Text.StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{{\"quant_type\": \"{FourBitTypes.Name(QuantType)}\", \"blocksize\": {BlockSize}, \"dtype\": \"{dtype}\", ");
        text.Append("\"shape\": [").Append(string.Join(", ", Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))).Append(']');
        if (Nested)
            text.Append(CultureInfo.InvariantCulture, $", \"nested_blocksize\": {NestedBlockSize}, \"nested_dtype\": \"float32\", \"nested_offset\": {PythonFloat(NestedOffset!.Value)}");
        text.Append('}');
        return System.Text.Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>Python's repr of a float: the shortest round-trip digits, "1.0" for whole numbers, "1e-05" style exponents.</summary>
    internal static string PythonFloat(double value)
    {
        var r = value.ToString("R", CultureInfo.InvariantCulture);
        if (r.Contains('E', StringComparison.Ordinal))
        {
            var parts = r.Split('E');
            int exponent = int.Parse(parts[1], CultureInfo.InvariantCulture);
            return $"{parts[0]}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}";
        }
        return r.Contains('.', StringComparison.Ordinal) || r is "NaN" or "Infinity" or "-Infinity" ? r : r + ".0";
    }

    private static string String(JsonElement e, string name, Func<string, SafetensorsFormatException> bad) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw bad($"quant_state {name} must be a string, got {Truncate(e.GetRawText())}");

    private static long Integer(JsonElement e, string name, Func<string, SafetensorsFormatException> bad) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) ? v : throw bad($"quant_state {name} must be an integer, got {Truncate(e.GetRawText())}");

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
