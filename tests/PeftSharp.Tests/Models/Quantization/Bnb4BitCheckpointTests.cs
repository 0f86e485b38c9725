using System.Text;
using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Models.Quantization;
using PeftSharp.Tests.IO;
using PeftSharp.Tests.Support;
using Xunit.Abstractions;
using static PeftSharp.Tests.Models.Quantization.Nf4Fixtures;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>
/// Reading the 4-bit llama checkpoint transformers + bitsandbytes wrote (fixtures/nf4/llama_bnb4): the model it gives against
/// the references (the float32 model with every quantized weight replaced by bitsandbytes' dequantized value), and
/// every kind of broken file refused with one message naming file and key.
/// </summary>
public class Bnb4BitCheckpointTests(ITestOutputHelper output)
{
    private const string QProj = "model.layers.0.self_attn.q_proj.weight";

    [Fact]
    public void LlamaFromBnb4BitCheckpointMatchesReference()
    {
        using var scope = NewDisposeScope();
        IReadOnlyList<string>? unused = null;
        using var model = AutoModel.FromPretrained(Bnb4Llama, unusedKeys: u => unused = u);
        Assert.Empty(unused!);
        var inputs = ModelInputsFile.Load(Fixtures.Inputs("llama"), model.InputEmbeddings.weight!.shape[0]);
        using var reference = SafetensorsFile.Open(Path.Combine(Bnb4Llama, "reference_outputs.safetensors"));
        ModelOutput result;
        using (no_grad()) result = model.forward(inputs);
        var named = result.Named().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(["last_hidden_state", "logits"], reference.Keys.Order());
        foreach (var key in reference.Keys)
        {
            var expected = reference.Load(key);
            var err = Parity.MaxRelativeError(named[key], expected, inputs.AttentionMask);
            var abs = named[key].sub(expected).abs().max().item<float>();
            output.WriteLine($"{key}: max |ours - ref| / (1 + |ref|) = {err:E3}, max |ours - ref| = {abs:E3}");
            Assert.True(err < 1e-5, $"{key}: max relative error {err:E3}");
        }
    }

    [Fact]
    public void CheckpointIsOurQuantizationOfTheFloatLlama()
    {
        using var scope = NewDisposeScope();
        using var bnb = SafetensorsFile.Open(Path.Combine(Bnb4Llama, "model.safetensors"));
        using var plain = SafetensorsFile.Open(Path.Combine(Fixtures.Model("llama"), "model.safetensors"));
        var quantized = bnb.Keys.Where(k => k.EndsWith(".quant_state.bitsandbytes__nf4", StringComparison.Ordinal))
            .Select(k => k[..k.IndexOf(".quant_state", StringComparison.Ordinal)]).ToList();
        Assert.Equal(14, quantized.Count);
        foreach (var key in quantized)
        {
            using var state = FourBitQuantizer.Quantize(plain.Load(key), FourBitType.Nf4, 64, doubleQuant: true);
            Assert.Equal(Bytes(bnb.Load(key)), Bytes(state.Packed));
            Assert.Equal(Bytes(bnb.Load(key + ".absmax")), Bytes(state.Absmax));
            AssertBitsEqual(Bits(bnb.Load(key + ".nested_absmax")), Bits(state.Nested!.Absmax), key + ".nested_absmax");
        }
    }

    [Fact]
    public void SourceShowsDequantizedWeightsAndHidesTheRest()
    {
        using var scope = NewDisposeScope();
        using var source = Bnb4BitCheckpoint.Open(CheckpointReader.OpenFolder(Bnb4Llama));
        Assert.Equal(14, source.QuantizedKeys.Count);
        Assert.DoesNotContain(source.Keys, k => k.Contains(".absmax") || k.Contains("quant_"));
        var entry = source.GetEntry(QProj);
        Assert.Equal([64L, 64L], entry.Shape);
        Assert.Equal(SafetensorsDType.F32, entry.DType);
        var w = source.Load(QProj);
        Assert.Equal(ScalarType.Float32, w.dtype);
        Assert.Equal([64L, 64L], w.shape);
        Assert.False(source.Contains(QProj + ".absmax"));
    }

    /// <summary>A copy of llama_bnb4 with its tensors and config edited; returns the folder.</summary>
    private static string Edited(TempDir dir, Action<Dictionary<string, Tensor>> tensors, Action<JsonObject>? config = null)
    {
        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(Path.Combine(Bnb4Llama, "model.safetensors"));
        var all = file.LoadAll();
        tensors(all);
        SafetensorsWriter.Write(dir.File("model.safetensors"), all.OrderBy(kv => kv.Key, StringComparer.Ordinal), new Dictionary<string, string> { ["format"] = "pt" });
        var json = JsonConfig.Load(Path.Combine(Bnb4Llama, "config.json")).Root;
        config?.Invoke(json);
        System.IO.File.WriteAllText(dir.File("config.json"), json.ToJsonString());
        return dir.Path;
    }

    private static Tensor Json(string text) => tensor(Encoding.UTF8.GetBytes(text));

    private const string GoodState = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [64, 64], " +
                                     "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.052734389901161194}";

    public static TheoryData<string, string, string> BrokenFiles() => new()
    {
        // case, key the message must name, words it must contain
        { "packed too short", QProj, "needs U8 [2048, 1]" },
        { "absmax too long", QProj + ".absmax", "needs U8 [64]" },
        { "absmax float without double quant in JSON", QProj + ".absmax", "needs F32 [64]" },
        { "blocksize 48", QProj + ".quant_state.bitsandbytes__nf4", "blocksize 48" },
        { "unknown field", QProj + ".quant_state.bitsandbytes__nf4", "unexpected field \"extra\"" },
        { "type contradicts key", QProj + ".quant_state.bitsandbytes__nf4", "contradicts the key" },
        { "not JSON", QProj + ".quant_state.bitsandbytes__nf4", "not valid JSON" },
        { "shape of zeros", QProj + ".quant_state.bitsandbytes__nf4", "positive integers" },
        { "quant_map changed", QProj + ".quant_map", "entry 3" },
        { "nested_absmax missing", QProj, "nested_absmax / nested_quant_map tensors are missing" },
        { "nested_quant_map not finite", QProj + ".nested_quant_map", "must be finite" },
        { "quant_state float", QProj + ".quant_state.bitsandbytes__nf4", "uint8 [length]" },
        { "unknown type suffix", QProj + ".quant_state.bitsandbytes__int4", "not nf4 or fp4" },
        { "orphan absmax", "lm_head.weight.absmax", "which has no quant_state" },
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void BrokenCheckpointIsRefusedNamingFileAndKey(string broken, string key, string words)
    {
        using var dir = new TempDir();
        var folder = Edited(dir, t =>
        {
            void Replace(string k, Tensor v) { t[k].Dispose(); t[k] = v; }
            var qs = QProj + ".quant_state.bitsandbytes__nf4";
            switch (broken)
            {
                case "packed too short": Replace(QProj, t[QProj].slice(0, 0, 2047, 1).clone()); break;
                case "absmax too long": Replace(QProj + ".absmax", cat([t[QProj + ".absmax"], zeros(1, ScalarType.Byte)], 0)); break;
                case "absmax float without double quant in JSON":
                    Replace(qs, Json("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [64, 64]}"));
                    break;
                case "blocksize 48": Replace(qs, Json(GoodState.Replace("\"blocksize\": 64", "\"blocksize\": 48"))); break;
                case "unknown field": Replace(qs, Json(GoodState.Replace("{", "{\"extra\": 1, "))); break;
                case "type contradicts key": Replace(qs, Json(GoodState.Replace("\"nf4\"", "\"fp4\""))); break;
                case "not JSON": Replace(qs, Json(GoodState[..40])); break;
                case "shape of zeros": Replace(qs, Json(GoodState.Replace("[64, 64]", "[0, 64]"))); break;
                case "quant_map changed":
                    var map = t[QProj + ".quant_map"].clone();
                    map[3] = tensor(0.5f);
                    Replace(QProj + ".quant_map", map);
                    break;
                case "nested_absmax missing": t.Remove(QProj + ".nested_absmax"); t.Remove(QProj + ".nested_quant_map"); break;
                case "nested_quant_map not finite":
                    var dyn = t[QProj + ".nested_quant_map"].clone();
                    dyn[10] = tensor(float.NaN);
                    Replace(QProj + ".nested_quant_map", dyn);
                    break;
                case "quant_state float": Replace(qs, t[qs].to(ScalarType.Float32)); break;
                case "unknown type suffix": t[QProj + ".quant_state.bitsandbytes__int4"] = t[qs]; t.Remove(qs); break;
                case "orphan absmax": t["lm_head.weight.absmax"] = zeros(4); break;
                default: throw new ArgumentOutOfRangeException(nameof(broken));
            }
        });
        var e = Assert.ThrowsAny<PeftException>(() => AutoModel.FromPretrained(folder).Dispose());
        output.WriteLine(e.Message);
        Assert.Contains(Path.Combine(folder, "model.safetensors"), e.Message);
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains(words, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("8-bit", "load_in_8bit")]
    [InlineData("gptq", "quant_method is \"gptq\"")]
    [InlineData("uint16 storage", "bnb_4bit_quant_storage")]
    [InlineData("no quantization_config", "has no quantization_config")]
    public void ConfigThatIsNotBnb4BitIsRefused(string config, string words)
    {
        using var dir = new TempDir();
        var folder = Edited(dir, _ => { }, c =>
        {
            var q = (JsonObject)c["quantization_config"]!;
            switch (config)
            {
                case "8-bit": q["load_in_4bit"] = false; q["_load_in_4bit"] = false; q["load_in_8bit"] = true; break;
                case "gptq": q["quant_method"] = "gptq"; break;
                case "uint16 storage": q["bnb_4bit_quant_storage"] = "uint16"; break;
                case "no quantization_config": c.Remove("quantization_config"); break;
            }
        });
        var e = Assert.ThrowsAny<PeftException>(() => AutoModel.FromPretrained(folder).Dispose());
        output.WriteLine(e.Message);
        Assert.Contains(words, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void LoadedCheckpointStaysInItsOwnFourBits()
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Bnb4Llama);
        using var file = SafetensorsFile.Open(Path.Combine(Bnb4Llama, "model.safetensors"));
        var layers = ModelQuantizer.Layers(model).ToList();
        Assert.Equal(14, layers.Count);
        var (name, layer) = layers.Single(l => l.Name + ".weight" == QProj);
        Assert.Equal(Bytes(file.Load(QProj)), Bytes(layer.get_buffer("weight")!));
        Assert.Equal(Bytes(file.Load(QProj + ".absmax")), Bytes(layer.get_buffer("absmax")!));
        Assert.True(layer.DoubleQuant);
        Assert.Equal(ScalarType.Float32, layer.ComputeDType);
        // Another 4-bit type would quantize the dequantized weights again: refused, naming both.
        var e = Assert.Throws<PeftException>(() => AutoModel.FromPretrained(Bnb4Llama, quantization: new QuantizationConfig(FourBitType.Fp4)));
        Assert.Contains("already bitsandbytes nf4 with double quantization", e.Message);
        // The same type sets the compute dtype.
        using var bf16 = AutoModel.FromPretrained(Bnb4Llama, quantization: new QuantizationConfig(FourBitType.Nf4, DoubleQuant: true, ScalarType.BFloat16));
        Assert.All(ModelQuantizer.Layers(bf16), l => Assert.Equal(ScalarType.BFloat16, l.Layer.ComputeDType));
    }

    [Fact]
    public void QuantStateJsonIsWrittenByteForByteAsBitsandbytesWritesIt()
    {
        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(Path.Combine(Bnb4Llama, "model.safetensors"));
        foreach (var key in file.Keys.Where(k => k.Contains(Bnb4BitCheckpoint.QuantStateInfix, StringComparison.Ordinal)))
        {
            var bytes = Bytes(file.Load(key));
            var parsed = QuantStateJson.Parse(bytes, FourBitType.Nf4, "file", key);
            Assert.Equal(Encoding.UTF8.GetString(bytes), Encoding.UTF8.GetString(parsed.ToBytes()));
        }
        // Python's float repr: whole numbers keep ".0", small ones use a two-digit exponent.
        var state = QuantStateJson.Of(FourBitType.Fp4, 128, ScalarType.BFloat16, [3, 5], 256, 1f);
        Assert.Equal("""{"quant_type": "fp4", "blocksize": 128, "dtype": "bfloat16", "shape": [3, 5], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 1.0}""",
            Encoding.UTF8.GetString(state.ToBytes()));
        Assert.Contains("\"nested_offset\": 9.999999747378752e-06", Encoding.UTF8.GetString(QuantStateJson.Of(FourBitType.Nf4, 64, ScalarType.Float32, [2], 256, 1e-5f).ToBytes()));
        Assert.Equal("""{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [8, 2]}""",
            Encoding.UTF8.GetString(QuantStateJson.Of(FourBitType.Nf4, 64, ScalarType.Float16, [8, 2], null, null).ToBytes()));
    }

    /// <summary>The writer against bitsandbytes: the float llama quantized here and saved is the file transformers +
    /// bitsandbytes wrote from it, tensor for tensor and byte for byte, with the same quantization_config.</summary>
    [Fact]
    public void QuantizedFloatLlamaSavesAsTheCheckpointBitsandbytesWrote()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model("llama"), quantization: new QuantizationConfig(FourBitType.Nf4, DoubleQuant: true));
        var saved = Path.Combine(dir.Path, "saved");
        ModelSaver.Save(model, saved);
        AssertSameTensors(Path.Combine(Bnb4Llama, "model.safetensors"), Path.Combine(saved, "model.safetensors"));
        var ours = JsonConfig.Load(Path.Combine(saved, "config.json")).Root[BnbQuantizationConfig.Key]!;
        var theirs = JsonConfig.Load(Path.Combine(Bnb4Llama, "config.json")).Root[BnbQuantizationConfig.Key]!;
        Assert.True(JsonNode.DeepEquals(theirs, ours), $"ours {ours.ToJsonString()}\ntheirs {theirs.ToJsonString()}");
        // Python tells 6 from 6.0, and BitsAndBytesConfig refuses an int threshold: the text must be the float's.
        Assert.Contains("\"llm_int8_threshold\": 6.0", System.IO.File.ReadAllText(Path.Combine(saved, "config.json")));
    }

    [Fact]
    public void SavedFourBitModelIsTheCheckpointItWasLoadedFrom()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Bnb4Llama);
        var saved = Path.Combine(dir.Path, "saved");
        ModelSaver.Save(model, saved);
        AssertSameTensors(Path.Combine(Bnb4Llama, "model.safetensors"), Path.Combine(saved, "model.safetensors"));
        using var again = AutoModel.FromPretrained(saved);
        var inputs = ModelInputsFile.Load(Fixtures.Inputs("llama"), 1000);
        using (no_grad())
            Assert.Equal(Floats(model.forward(inputs).Logits!), Floats(again.forward(inputs).Logits!));
    }

    [Fact]
    public void DequantizedModelSavesAsAPlainFloatFolder()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Bnb4Llama);
        using var file = Bnb4BitCheckpoint.Open(CheckpointReader.OpenFolder(Bnb4Llama));
        Assert.Equal(14, ModelQuantizer.Dequantize(model));
        var saved = Path.Combine(dir.Path, "saved");
        ModelSaver.Save(model, saved);
        Assert.False(JsonConfig.Load(Path.Combine(saved, "config.json")).Has(BnbQuantizationConfig.Key));
        using var again = AutoModel.FromPretrained(saved);
        Assert.Empty(ModelQuantizer.Layers(again));
        using var b = again.named_parameters().First(p => p.name == QProj).parameter.detach().clone();
        Assert.Equal(Bits(file.Load(QProj)), Bits(b));
    }

    private static void AssertSameTensors(string expectedPath, string actualPath)
    {
        using var expected = SafetensorsFile.Open(expectedPath);
        using var actual = SafetensorsFile.Open(actualPath);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var key in expected.Keys)
        {
            var e = expected.GetEntry(key);
            var a = actual.GetEntry(key);
            Assert.True(e.DType == a.DType && e.Shape.SequenceEqual(a.Shape), $"{key}: {a.DType} [{string.Join(", ", a.Shape)}] vs {e.DType} [{string.Join(", ", e.Shape)}]");
            using var et = expected.Load(key);
            using var at = actual.Load(key);
            bool same = et.dtype == ScalarType.Byte ? Bytes(et).SequenceEqual(Bytes(at))
                : et.dtype == ScalarType.Float32 ? Bits(et).SequenceEqual(Bits(at))
                : et.equal(at).item<bool>();
            Assert.True(same, $"{key}: values differ");
        }
    }
}
