using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.Win32.SafeHandles;

namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Reads and validates a safetensors header completely before anyone touches tensor data, so that a broken or
/// hostile file fails with a message naming the file and tensor instead of a wrong tensor, an
/// IndexOutOfRange deep in a model, or a multi-gigabyte allocation. The rules follow the Python/Rust library:
/// header at most 100 MB, tensors laid out back to back from offset 0 to the end of the file.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>The Rust library's MAX_HEADER_SIZE.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>No real tensor comes close; the bound keeps a hostile shape from costing time and memory.</summary>
    public const int MaxRank = 64;

    public const string MetadataKey = "__metadata__";

    private const string DTypeField = "dtype";
    private const string ShapeField = "shape";
    private const string OffsetsField = "data_offsets";

    private SafetensorsHeader(IReadOnlyDictionary<string, string> metadata, TensorEntry[] entries, long headerLength)
    {
        Metadata = metadata;
        Entries = entries;
        HeaderLength = headerLength;
    }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Sorted by offset (then header order, for zero-length tensors sharing an offset).</summary>
    public TensorEntry[] Entries { get; }

    /// <summary>N, the JSON length including padding; the data section starts at 8 + N.</summary>
    public long HeaderLength { get; }

    public long DataStart => 8 + HeaderLength;

    public static SafetensorsHeader Read(SafeFileHandle file, long fileLength, string path)
    {
        if (fileLength < 8)
            throw new SafetensorsFormatException(path, null,
                $"file is {fileLength} bytes long, too short for the 8-byte header length that starts every safetensors file");
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(file, prefix, 0, path, null);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
            throw new SafetensorsFormatException(path, null,
                $"header length {n} is larger than the {MaxHeaderBytes}-byte limit (is this a safetensors file?)");
        if ((long)n > fileLength - 8)
            throw new SafetensorsFormatException(path, null,
                $"header length {n} runs past the end of the {fileLength}-byte file (truncated or not a safetensors file)");
        var json = new byte[(int)n];
        ReadExactly(file, json, 8, path, null);
        return Parse(json, fileLength - 8 - (long)n, path);
    }

    /// <summary>Validates the JSON header of a file whose data section is <paramref name="dataLength"/> bytes.</summary>
    public static SafetensorsHeader Parse(byte[] json, long dataLength, string path)
    {
        if (json.Length == 0)
            throw new SafetensorsFormatException(path, null, "header is empty; it must be a JSON object");
        if (!Utf8.IsValid(json))
            throw new SafetensorsFormatException(path, null, "header is not valid UTF-8");
        if (json[0] != (byte)'{')
            throw new SafetensorsFormatException(path, null, "header does not start with '{'; it must be a JSON object");

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(path, null, $"header is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            try
            {
                return FromJson(doc.RootElement, (long)json.Length, dataLength, path);
            }
            catch (InvalidOperationException e)
            {
                // JsonElement.GetString throws this for escapes that are not valid UTF-16, such as "\udc00".
                throw new SafetensorsFormatException(path, null, $"header holds a string that is not valid text: {e.Message}", e);
            }
        }
    }

    private static SafetensorsHeader FromJson(JsonElement root, long headerLength, long dataLength, string path)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new SafetensorsFormatException(path, null, $"header is a JSON {Kind(root)}, not an object");

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<TensorEntry>();
        foreach (var property in root.EnumerateObject())
        {
            var name = property.Name;
            if (!seen.Add(name))
                throw new SafetensorsFormatException(path, name == MetadataKey ? null : name,
                    $"key '{name}' appears more than once in the header");
            if (name == MetadataKey)
                ReadMetadata(property.Value, metadata, path);
            else
                entries.Add(ReadEntry(name, property.Value, dataLength, path));
        }

        // OrderBy is stable: zero-length tensors sharing an offset keep their header order, which is the order
        // the writer chose.
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToArray();
        CheckLayout(sorted, dataLength, path);
        return new SafetensorsHeader(metadata, sorted, headerLength);
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> into, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsFormatException(path, null,
                $"'{MetadataKey}' is a JSON {Kind(value)}; it must be an object of string keys to string values");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsFormatException(path, null,
                    $"'{MetadataKey}' entry '{item.Name}' is a JSON {Kind(item.Value)}; metadata values must be strings");
            if (!into.TryAdd(item.Name, item.Value.GetString()!))
                throw new SafetensorsFormatException(path, null, $"'{MetadataKey}' has key '{item.Name}' more than once");
        }
    }

    private static TensorEntry ReadEntry(string name, JsonElement value, long dataLength, string path)
    {
        SafetensorsFormatException Bad(string problem) => new(path, name, problem);

        if (value.ValueKind != JsonValueKind.Object)
            throw Bad($"header entry is a JSON {Kind(value)}; it must be an object with '{DTypeField}', '{ShapeField}' and '{OffsetsField}'");

        JsonElement? dtypeJson = null, shapeJson = null, offsetsJson = null;
        foreach (var field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case DTypeField when dtypeJson == null: dtypeJson = field.Value; break;
                case ShapeField when shapeJson == null: shapeJson = field.Value; break;
                case OffsetsField when offsetsJson == null: offsetsJson = field.Value; break;
                case DTypeField or ShapeField or OffsetsField: throw Bad($"field '{field.Name}' appears more than once");
                default: throw Bad($"unexpected field '{field.Name}' (expected only '{DTypeField}', '{ShapeField}', '{OffsetsField}')");
            }
        }
        if (dtypeJson is not { } dtypeValue) throw Bad($"missing field '{DTypeField}'");
        if (shapeJson is not { } shapeValue) throw Bad($"missing field '{ShapeField}'");
        if (offsetsJson is not { } offsetsValue) throw Bad($"missing field '{OffsetsField}'");

        if (dtypeValue.ValueKind != JsonValueKind.String)
            throw Bad($"'{DTypeField}' is a JSON {Kind(dtypeValue)}, not a string");
        var dtypeText = dtypeValue.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeText, out var dtype))
            throw Bad($"dtype '{dtypeText}' is not one PeftSharp can load " +
                      $"(supported: {string.Join(", ", SafetensorsDTypes.All.Select(SafetensorsDTypes.ToHeaderString))})");

        if (shapeValue.ValueKind != JsonValueKind.Array)
            throw Bad($"'{ShapeField}' is a JSON {Kind(shapeValue)}, not an array");
        int rank = shapeValue.GetArrayLength();
        if (rank > MaxRank)
            throw Bad($"shape has {rank} dimensions; more than {MaxRank} is not supported");
        var shape = new long[rank];
        long elements = 1, span = SafetensorsDTypes.SizeOf(dtype);
        bool overflow = false, strideOverflow = false;
        for (int i = 0; i < rank; i++)
        {
            var d = shapeValue[i];
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out shape[i]) || shape[i] < 0)
                throw Bad($"shape entry {i} is {Truncate(d.GetRawText())}; shape entries must be non-negative integers");
            if (!overflow && !TryMultiply(elements, shape[i], out elements)) overflow = true;
            // libtorch computes contiguous strides with zero-sized dimensions counted as 1, so [0, 2^62, 2^62]
            // has no elements and still cannot be created; in bytes, so no stride arithmetic can overflow either.
            if (!strideOverflow && !TryMultiply(span, Math.Max(shape[i], 1), out span)) strideOverflow = true;
        }
        if (overflow)
            throw Bad($"shape [{string.Join(", ", shape)}] has more elements than fit in 64 bits");
        if (strideOverflow)
            throw Bad($"shape [{string.Join(", ", shape)}] of {dtypeText} is more bytes than fit in 64 bits " +
                      "(counting zero-sized dimensions as 1, as tensor strides do)");
        long byteLength = elements * SafetensorsDTypes.SizeOf(dtype); // cannot overflow: span >= it

        if (offsetsValue.ValueKind != JsonValueKind.Array || offsetsValue.GetArrayLength() != 2)
            throw Bad($"'{OffsetsField}' is {Truncate(offsetsValue.GetRawText())}; it must be an array of two integers [begin, end]");
        var offsets = new long[2];
        for (int i = 0; i < 2; i++)
        {
            var o = offsetsValue[i];
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out offsets[i]) || offsets[i] < 0)
                throw Bad($"'{OffsetsField}' is {Truncate(offsetsValue.GetRawText())}; offsets must be non-negative integers");
        }
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
            throw Bad($"data_offsets [{begin}, {end}] begin after they end");
        if (end > dataLength)
            throw Bad($"data_offsets [{begin}, {end}] run past the end of the data section ({dataLength} bytes; truncated file?)");
        if (end - begin != byteLength)
            throw Bad($"data_offsets [{begin}, {end}] span {end - begin} bytes but {dtypeText} " +
                      $"[{string.Join(", ", shape)}] needs {byteLength}");
        return new TensorEntry(name, dtype, shape, begin, end);
    }

    /// <summary>Tensors must tile the data section exactly, as the Python library requires.</summary>
    private static void CheckLayout(TensorEntry[] sorted, long dataLength, string path)
    {
        long covered = 0;
        TensorEntry? previous = null;
        foreach (var e in sorted)
        {
            if (e.Begin < covered)
                throw new SafetensorsFormatException(path, e.Name,
                    $"data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous!.Name}' at [{previous.Begin}, {previous.End})");
            if (e.Begin > covered)
                throw new SafetensorsFormatException(path, e.Name, previous == null
                    ? $"data_offsets [{e.Begin}, {e.End}] leave the first {e.Begin} bytes of the data section unused; " +
                      "safetensors requires tensors to cover the data section without gaps"
                    : $"data_offsets [{e.Begin}, {e.End}] leave a gap of {e.Begin - covered} bytes after tensor '{previous.Name}' " +
                      $"(which ends at {covered}); safetensors requires tensors to cover the data section without gaps");
            covered = e.End;
            previous = e;
        }
        if (covered != dataLength)
            throw new SafetensorsFormatException(path, null,
                $"the data section is {dataLength} bytes but the tensors cover only {covered}; " +
                "safetensors does not allow trailing bytes after the last tensor");
    }

    /// <summary>pread until the span is full; a short file means it changed or lied about its size.</summary>
    internal static void ReadExactly(SafeFileHandle file, Span<byte> into, long offset, string path, string? tensorName)
    {
        while (!into.IsEmpty)
        {
            int read = RandomAccess.Read(file, into, offset);
            if (read == 0)
                throw new SafetensorsFormatException(path, tensorName,
                    $"file ended at byte {offset} while reading; it is shorter than its header says (was it changed while open?)");
            into = into[read..];
            offset += read;
        }
    }

    /// <summary>Both factors are non-negative.</summary>
    private static bool TryMultiply(long a, long b, out long product)
    {
        if (a != 0 && b > long.MaxValue / a)
        {
            product = 0;
            return false;
        }
        product = a * b;
        return true;
    }

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
