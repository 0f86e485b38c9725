using PeftSharp.IO.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// A transformers + bitsandbytes 4-bit checkpoint seen as an ordinary float checkpoint: each quantized Linear weight P.weight
/// is stored as P.weight (uint8 [ceil(n / 2), 1], packed indices), P.weight.absmax, P.weight.quant_map and
/// P.weight.quant_state.bitsandbytes__nf4 (or __fp4: JSON, <see cref="QuantStateJson"/>), plus for double quantization
/// P.weight.nested_absmax and P.weight.nested_quant_map. This source lists P.weight as the dequantized tensor (the
/// original shape, the quant_state dtype) and hides the other keys, so <see cref="WeightLoader"/> loads the float model
/// unchanged. Everything is validated when opening, before any weight is read or allocated: every tensor's dtype and shape
/// against the JSON (packed length ceil(n / 2), absmax length = blocks, nested lengths), the block sizes, and the code
/// tables. quant_map must equal bitsandbytes' own NF4/FP4 table bit for bit: bitsandbytes ignores the stored table
/// and dequantizes with its built-in one, so a different table is refused rather than silently not used.
/// nested_quant_map is used as given (bitsandbytes does), after checking it is 256 finite float32 values.
/// Dequantization then follows bitsandbytes exactly (<see cref="FourBitQuantizer.Dequantize"/>, then the cast to the
/// quant_state dtype) and each weight is dequantized only when loaded.
/// </summary>
public sealed class Bnb4BitCheckpoint : ITensorSource
{
    public const string QuantStateInfix = ".quant_state.bitsandbytes__";
    private static readonly string[] AuxiliarySuffixes = [".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map"];

    private readonly CheckpointReader _inner;
    private readonly Dictionary<string, Quantized> _quantized;
    private readonly List<string> _keys;
    private readonly HashSet<string> _visible;

    /// <summary>A validated quantized weight: its JSON and the dequantized tensor's entry.</summary>
    private sealed record Quantized(string Key, QuantStateJson State, TensorEntry Entry);

    private Bnb4BitCheckpoint(CheckpointReader inner, Dictionary<string, Quantized> quantized, List<string> keys)
    {
        _inner = inner;
        _quantized = quantized;
        _keys = keys;
        _visible = keys.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The quantized weights' keys, in file order.</summary>
    public IReadOnlyList<string> QuantizedKeys => _keys.Where(_quantized.ContainsKey).ToList();

    /// <summary>
    /// The checkpoint as the model loader should see it: a 4-bit view when the config is bitsandbytes 4-bit, the checkpoint
    /// itself otherwise (refusing one that holds bitsandbytes tensors under a config without quantization_config). Takes
    /// ownership of <paramref name="checkpoint"/>: it is disposed with the result, or here if this throws.
    /// </summary>
    public static ITensorSource Wrap(CheckpointReader checkpoint, bool bnb4BitConfig, string configSource)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        try
        {
            if (bnb4BitConfig) return Open(checkpoint);
            var stray = checkpoint.Keys.FirstOrDefault(k => k.Contains(QuantStateInfix, StringComparison.Ordinal));
            if (stray != null)
                throw new PeftException($"{checkpoint.FileOf(stray).Path}: tensor '{stray}' is a bitsandbytes 4-bit quant_state, but " +
                                        $"{configSource} has no {BnbQuantizationConfig.Key}; the checkpoint and its config do not belong together");
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Validates every quantized weight of the checkpoint (see the class summary); does not take ownership on failure.</summary>
    public static Bnb4BitCheckpoint Open(CheckpointReader checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var all = checkpoint.Keys.ToHashSet(StringComparer.Ordinal);
        var quantized = new Dictionary<string, Quantized>(StringComparer.Ordinal);
        var hidden = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in checkpoint.Keys)
        {
            int at = key.IndexOf(QuantStateInfix, StringComparison.Ordinal);
            if (at < 0) continue;
            var weightKey = key[..at];
            var file = checkpoint.FileOf(key).Path;
            var typeName = key[(at + QuantStateInfix.Length)..];
            if (!FourBitTypes.TryParse(typeName, out var type))
                throw new SafetensorsFormatException(file, key, $"quant state type \"{typeName}\" is not nf4 or fp4");
            if (quantized.ContainsKey(weightKey))
                throw new SafetensorsFormatException(file, key, $"'{weightKey}' has more than one quant_state tensor");
            var state = ReadState(checkpoint, key, type, file);
            quantized[weightKey] = new Quantized(weightKey, state, Validate(checkpoint, weightKey, state, all));
            hidden.Add(key);
            foreach (var suffix in AuxiliarySuffixes) hidden.Add(weightKey + suffix);
        }
        foreach (var key in checkpoint.Keys)
            foreach (var suffix in AuxiliarySuffixes)
                if (key.EndsWith(suffix, StringComparison.Ordinal) && !hidden.Contains(key) && all.Contains(key[..^suffix.Length]))
                    throw new SafetensorsFormatException(checkpoint.FileOf(key).Path, key,
                        $"looks like a bitsandbytes 4-bit tensor of '{key[..^suffix.Length]}', which has no {QuantStateInfix.TrimStart('.')}nf4/fp4 tensor");
        var keys = checkpoint.Keys.Where(k => !hidden.Contains(k)).ToList();
        return new Bnb4BitCheckpoint(checkpoint, quantized, keys);
    }

    private static QuantStateJson ReadState(CheckpointReader checkpoint, string key, FourBitType type, string file)
    {
        var entry = checkpoint.GetEntry(key);
        if (entry.DType != SafetensorsDType.U8 || entry.Shape.Length != 1)
            throw new SafetensorsFormatException(file, key, $"a quant_state must be uint8 [length] (UTF-8 JSON), not {Describe(entry)}");
        if (entry.ElementCount > QuantStateJson.MaxBytes)
            throw new SafetensorsFormatException(file, key, $"quant_state is {entry.ElementCount} bytes; more than {QuantStateJson.MaxBytes} is not a real one");
        using var bytes = checkpoint.Load(key);
        return QuantStateJson.Parse(bytes.data<byte>().ToArray(), type, file, key);
    }

    /// <summary>Checks the tensors of one quantized weight against its JSON; returns the entry of the dequantized weight.</summary>
    private static TensorEntry Validate(CheckpointReader checkpoint, string weightKey, QuantStateJson state, HashSet<string> all)
    {
        long n = state.ElementCount;
        long bytes = n / 2 + n % 2;
        long blocks = BlockSizes.BlockCount(n, state.BlockSize);

        TensorEntry Expect(string key, SafetensorsDType dtype, long length, bool packed = false)
        {
            if (!all.Contains(key))
                throw new SafetensorsFormatException(checkpoint.FileOf(weightKey + QuantStateInfix + FourBitTypes.Name(state.QuantType)).Path, key,
                    $"missing: the quant_state of '{weightKey}' needs it");
            var entry = checkpoint.GetEntry(key);
            bool shapeOk = entry.Shape.Length == 1 && entry.Shape[0] == length
                           || packed && entry.Shape.Length == 2 && entry.Shape[0] == length && entry.Shape[1] == 1;
            if (entry.DType != dtype || !shapeOk)
                throw new SafetensorsFormatException(checkpoint.FileOf(key).Path, key,
                    $"is {Describe(entry)} but the quant_state ({FourBitTypes.Name(state.QuantType)}, blocksize {state.BlockSize}, shape " +
                    $"[{string.Join(", ", state.Shape)}]) needs {SafetensorsDTypes.ToHeaderString(dtype)} [{length}{(packed ? ", 1" : "")}]");
            return entry;
        }

        Expect(weightKey, SafetensorsDType.U8, bytes, packed: true);
        Expect(weightKey + ".absmax", state.Nested ? SafetensorsDType.U8 : SafetensorsDType.F32, blocks);
        Expect(weightKey + ".quant_map", SafetensorsDType.F32, 16);
        CheckQuantMap(checkpoint, weightKey + ".quant_map", state.QuantType);
        bool hasNested = all.Contains(weightKey + ".nested_absmax") || all.Contains(weightKey + ".nested_quant_map");
        if (hasNested != state.Nested)
            throw new SafetensorsFormatException(checkpoint.FileOf(weightKey).Path, weightKey,
                state.Nested ? "its quant_state has nested_* fields but the nested_absmax / nested_quant_map tensors are missing"
                             : "has nested_absmax / nested_quant_map tensors but its quant_state has no nested_* fields");
        if (state.Nested)
        {
            Expect(weightKey + ".nested_absmax", SafetensorsDType.F32, BlockSizes.BlockCount(blocks, state.NestedBlockSize!.Value));
            Expect(weightKey + ".nested_quant_map", SafetensorsDType.F32, DynamicMap.Size);
            CheckFinite(checkpoint, weightKey + ".nested_quant_map");
        }
        var dtype = SafetensorsDTypes.FromScalarType(state.DType);
        return new TensorEntry(weightKey, dtype, (long[])state.Shape.Clone(), 0, checked(n * SafetensorsDTypes.SizeOf(dtype)));
    }

    private static void CheckQuantMap(CheckpointReader checkpoint, string key, FourBitType type)
    {
        using var map = checkpoint.Load(key);
        var values = map.data<float>().ToArray();
        var expected = FourBitCodes.TableRef(type);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(values[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                throw new SafetensorsFormatException(checkpoint.FileOf(key).Path, key,
                    $"entry {i} is {values[i]:R}, not bitsandbytes' {FourBitTypes.Name(type)} value {expected[i]:R}; bitsandbytes decodes " +
                    "with its built-in table whatever is stored, so a different table is refused");
    }

    private static void CheckFinite(CheckpointReader checkpoint, string key)
    {
        using var map = checkpoint.Load(key);
        var values = map.data<float>().ToArray();
        int bad = Array.FindIndex(values, v => !float.IsFinite(v));
        if (bad >= 0) throw new SafetensorsFormatException(checkpoint.FileOf(key).Path, key, $"entry {bad} is {values[bad]}; the code must be finite");
    }

    private static string Describe(TensorEntry e) => $"{SafetensorsDTypes.ToHeaderString(e.DType)} [{string.Join(", ", e.Shape)}]";

    public IEnumerable<string> Keys => _keys;

    public bool Contains(string name) => _visible.Contains(name);

    /// <summary>For a quantized weight: the dequantized tensor (dtype and shape from its quant_state; Begin/End span its
    /// size, it has no place in a file). For any other key: the checkpoint's entry.</summary>
    public TensorEntry GetEntry(string name)
    {
        if (_quantized.TryGetValue(name, out var q)) return q.Entry with { Shape = (long[])q.Entry.Shape.Clone() };
        if (!_visible.Contains(name)) throw new PeftException(NearKeys.NotFoundMessage(name, _inner.Path, _keys));
        return _inner.GetEntry(name);
    }

    public bool TryGetEntry(string name, out TensorEntry entry)
    {
        if (_visible.Contains(name))
        {
            entry = GetEntry(name);
            return true;
        }
        entry = null!;
        return false;
    }

    /// <summary>A quantized weight's key gives its dequantized value, bitsandbytes' dequantize_4bit then the cast to its dtype.</summary>
    public Tensor Load(string name, Device? device = null, ScalarType? dtype = null)
    {
        if (!_quantized.TryGetValue(name, out var q))
        {
            if (!_visible.Contains(name)) throw new PeftException(NearKeys.NotFoundMessage(name, _inner.Path, _keys));
            return _inner.Load(name, device, dtype);
        }
        using var scope = NewDisposeScope();
        using var state = ReadQuantState(q);
        var weight = FourBitQuantizer.Dequantize(state);
        if (q.State.DType != ScalarType.Float32) weight = weight.to(q.State.DType);
        if (dtype is { } wanted && wanted != weight.dtype) weight = weight.to(wanted);
        if (device is not null && device.type != DeviceType.CPU) weight = weight.to(device);
        return weight.MoveToOuterDisposeScope();
    }

    /// <summary>The validated quant_state JSON of quantized weight <paramref name="weightKey"/>.</summary>
    public QuantStateJson StateOf(string weightKey) =>
        _quantized.TryGetValue(weightKey, out var q) ? q.State : throw new PeftException($"{_inner.Path}: '{weightKey}' is not a 4-bit weight");

    /// <summary>The stored (validated) 4-bit state of quantized weight <paramref name="weightKey"/>, exactly as in the file; the caller disposes it.</summary>
    public QuantState LoadQuantState(string weightKey) =>
        _quantized.TryGetValue(weightKey, out var q) ? ReadQuantState(q) : throw new PeftException($"{_inner.Path}: '{weightKey}' is not a 4-bit weight");

    /// <summary>The stored tensors of a validated weight as a <see cref="QuantState"/> (the caller disposes it).</summary>
    private QuantState ReadQuantState(Quantized q)
    {
        using var scope = NewDisposeScope();
        var s = q.State;
        NestedAbsmax? nested = s.Nested
            ? new NestedAbsmax(_inner.Load(q.Key + ".nested_absmax").MoveToOuterDisposeScope(),
                _inner.Load(q.Key + ".nested_quant_map").MoveToOuterDisposeScope(), s.NestedBlockSize!.Value, s.NestedOffset!.Value)
            : null;
        return new QuantState(_inner.Load(q.Key).MoveToOuterDisposeScope(), _inner.Load(q.Key + ".absmax").MoveToOuterDisposeScope(),
            s.QuantType, s.BlockSize, (long[])s.Shape.Clone(), s.DType, nested);
    }

    public Dictionary<string, Tensor> LoadAll(Device? device = null, ScalarType? dtype = null)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var key in _keys) result.Add(key, Load(key, device, dtype));
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    public void Dispose() => _inner.Dispose();

    public override string ToString() => $"{_inner.Path} (bitsandbytes 4-bit: {_quantized.Count} quantized of {_keys.Count} tensors)";
}
