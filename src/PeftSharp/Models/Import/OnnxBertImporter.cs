using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftSharp.IO;
using PeftSharp.IO.Onnx;
using PeftSharp.Models.Bert;
using static TorchSharp.torch;

namespace PeftSharp.Models.Import;

/// <summary>
/// Turns a BertModel exported by torch.onnx back into a transformers checkpoint. The export keeps Hugging Face
/// names for embeddings, biases, LayerNorms and the pooler, but stores each Linear weight as an anonymous
/// initializer, transposed to [in, out], feeding a MatMul. The graph still says which is which: the MatMul's
/// output goes to the Add that uses the named bias. Sizes, LayerNorm epsilon and the head count are read from the
/// graph rather than assumed, and every BertModel parameter must be filled exactly once with its shape.
/// </summary>
public static partial class OnnxBertImporter
{
    public static ImportedCheckpoint Import(OnnxModel onnx)
    {
        var graph = onnx.Graph;
        var config = InferConfig(onnx);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            var used = new HashSet<string>(StringComparer.Ordinal);
            using var model = new BertModel(new BertConfig(new JsonConfig(config, $"{onnx.Source} (inferred config)")));
            var problems = new List<string>();
            foreach (var (name, parameter) in model.named_parameters())
            {
                var (tensor, from) = Find(graph, name, onnx.Source);
                if (tensor is null) { problems.Add($"{name}: not found"); continue; }
                if (!used.Add(from)) { tensor.Dispose(); problems.Add($"{name}: initializer '{from}' is already used by another parameter"); continue; }
                if (!tensor.shape.SequenceEqual(parameter.shape))
                {
                    problems.Add($"{name}: '{from}' has shape [{string.Join(", ", tensor.shape)}], BertModel needs [{string.Join(", ", parameter.shape)}]");
                    tensor.Dispose();
                    continue;
                }
                tensors.Add(name, tensor);
            }
            var leftover = graph.Initializers.Values.Where(t => t.DataType == OnnxTensor.Float && t.ElementCount > 1 && !used.Contains(t.Name))
                .Select(t => $"{t.Name} {t.ShapeText}").ToList();
            if (leftover.Count > 0) problems.Add($"float initializers that no parameter uses (the graph is not a plain BertModel): {string.Join(", ", leftover.Take(8))}");
            if (problems.Count > 0)
                throw new PeftException($"{onnx.Source}: cannot import as BertModel: {string.Join("; ", problems.Take(8))}" +
                                        (problems.Count > 8 ? $"; ... ({problems.Count - 8} more)" : ""));
            return new ImportedCheckpoint(config, tensors);
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A parameter's tensor in [out, in] layout as transformers stores it, and the initializer it came from:
    /// the initializer of that name, or for "X.weight" the [in, out] right operand of the MatMul whose result
    /// is added to the initializer "X.bias".
    /// </summary>
    private static (Tensor? Tensor, string From) Find(OnnxGraph graph, string name, string source)
    {
        if (graph.Initializers.TryGetValue(name, out var named))
            return (StoredInOut(graph, name) ? Transposed(named) : named.ToTorch(), name);
        if (!name.EndsWith(".weight", StringComparison.Ordinal)) return (null, "");
        var bias = name[..^"weight".Length] + "bias";
        var matmuls = graph.Consumers(bias).Where(n => n.OpType == "Add" && n.Inputs.Count == 2)
            .Select(add => graph.Producer(add.Inputs[0] == bias ? add.Inputs[1] : add.Inputs[0]))
            .Where(p => p is { OpType: "MatMul", Inputs.Count: 2 } && graph.Initializers.ContainsKey(p.Inputs[1]))
            .ToList();
        if (matmuls.Count == 0) return (null, "");
        if (matmuls.Count > 1) throw new PeftException($"{source}: bias '{bias}' is added to {matmuls.Count} MatMul results; cannot tell which weight is '{name}'");
        var weight = graph.Initializers[matmuls[0]!.Inputs[1]];
        if (weight.Dims.Count != 2) throw new PeftException($"{source}: '{weight.Name}' (the MatMul weight for '{name}') has shape {weight.ShapeText}, not a matrix");
        return (Transposed(weight), weight.Name);
    }

    /// <summary>
    /// A named matrix is [in, out] when it is the right operand of a MatMul or of a Gemm without transB (the
    /// pooler's Gemm has transB=1, i.e. transformers' [out, in]).
    /// </summary>
    private static bool StoredInOut(OnnxGraph graph, string name) => graph.Consumers(name).Any(n =>
        n.Inputs.Count >= 2 && n.Inputs[1] == name &&
        (n.OpType == "MatMul" || (n.OpType == "Gemm" && !(n.Attributes.TryGetValue("transB", out var t) && t.Int == 1))));

    private static Tensor Transposed(OnnxTensor matrix)
    {
        using var inOut = matrix.ToTorch();
        return inOut.t().contiguous();
    }

    /// <summary>config.json for the graph: sizes from the initializers, epsilon and head count from the nodes.</summary>
    private static JsonObject InferConfig(OnnxModel onnx)
    {
        var graph = onnx.Graph;
        var source = onnx.Source;
        OnnxTensor Need(string name) => graph.Initializers.TryGetValue(name, out var t) && t.Dims.Count >= 1
            ? t : throw new PeftException($"{source}: no initializer '{name}'; is this a BERT export with Hugging Face names?");
        var words = Need("embeddings.word_embeddings.weight");
        if (words.Dims.Count != 2) throw new PeftException($"{source}: embeddings.word_embeddings.weight has shape {words.ShapeText}, not a matrix");
        int vocab = Size(words.Dims[0]), hidden = Size(words.Dims[1]);
        int positions = Size(Need("embeddings.position_embeddings.weight").Dims[0]);
        int types = Size(Need("embeddings.token_type_embeddings.weight").Dims[0]);
        var layerIndices = graph.Initializers.Keys.Select(k => LayerName().Match(k)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().Order().ToList();
        if (layerIndices.Count == 0 || layerIndices[^1] != layerIndices.Count - 1)
            throw new PeftException($"{source}: encoder layers are not numbered 0..N-1 (found {string.Join(", ", layerIndices)})");
        int intermediate = Size(Need("encoder.layer.0.intermediate.dense.bias").Dims[0]);
        int heads = HeadCount(graph, hidden, source);
        double eps = LayerNormEpsilon(graph, source);
        CheckGelu(graph, layerIndices.Count, source);

        return new JsonObject
        {
            ["architectures"] = new JsonArray("BertModel"),
            ["model_type"] = "bert",
            ["vocab_size"] = vocab,
            ["hidden_size"] = hidden,
            ["num_hidden_layers"] = layerIndices.Count,
            ["num_attention_heads"] = heads,
            ["intermediate_size"] = intermediate,
            ["hidden_act"] = "gelu",
            ["hidden_dropout_prob"] = 0.1,
            ["attention_probs_dropout_prob"] = 0.1,
            ["max_position_embeddings"] = positions,
            ["type_vocab_size"] = types,
            ["initializer_range"] = 0.02,
            ["layer_norm_eps"] = eps,
            ["pad_token_id"] = 0,
            ["position_embedding_type"] = "absolute",
            ["torch_dtype"] = "float32",
            ["use_cache"] = true,
        };

        int Size(long d) => d is > 0 and <= int.MaxValue ? (int)d : throw new PeftException($"{source}: dimension {d} is out of range");
    }

    /// <summary>
    /// The query projection is reshaped to [batch, seq, heads, head_dim] by a Reshape whose target shape is a
    /// Concat of the two dynamic sizes and two constants: those constants are the head count and size.
    /// </summary>
    private static int HeadCount(OnnxGraph graph, int hidden, string source)
    {
        const string bias = "encoder.layer.0.attention.self.query.bias";
        var add = graph.Consumers(bias).FirstOrDefault(n => n.OpType == "Add");
        var reshape = add is null ? null : graph.Consumers(add.Outputs[0]).FirstOrDefault(n => n.OpType == "Reshape" && n.Inputs.Count == 2);
        var shape = reshape is null ? null : graph.Producer(reshape.Inputs[1]);
        long[]? dims = null;
        if (shape is { OpType: "Concat", Inputs.Count: 4 })
        {
            var h = graph.ConstantValue(shape.Inputs[2]);
            var d = graph.ConstantValue(shape.Inputs[3]);
            if (h is { DataType: OnnxTensor.Int64, ElementCount: 1 } && d is { DataType: OnnxTensor.Int64, ElementCount: 1 })
                dims = [h.ReadInt64s()[0], d.ReadInt64s()[0]];
        }
        else if (shape is null && reshape is not null && graph.ConstantValue(reshape.Inputs[1]) is { DataType: OnnxTensor.Int64, ElementCount: 4 } fixedShape)
            dims = fixedShape.ReadInt64s()[2..];
        if (dims is null) throw new PeftException($"{source}: cannot find the head count (no Reshape of the query projection to [batch, seq, heads, head_dim])");
        if (dims[0] <= 0 || dims[0] * dims[1] != hidden)
            throw new PeftException($"{source}: the query is split into {dims[0]} heads of {dims[1]}, which does not make hidden size {hidden}");
        return (int)dims[0];
    }

    /// <summary>
    /// Epsilon from each LayerNorm, fused (LayerNormalization's epsilon attribute) or decomposed as torch.onnx
    /// writes it at opset 13: x / Sqrt(ReduceMean(d²) + eps) * weight. All must agree.
    /// </summary>
    private static double LayerNormEpsilon(OnnxGraph graph, string source)
    {
        var found = new Dictionary<string, float>(StringComparer.Ordinal);
        foreach (var weight in graph.Initializers.Keys.Where(k => k.EndsWith("LayerNorm.weight", StringComparison.Ordinal)))
        {
            foreach (var node in graph.Consumers(weight))
            {
                if (node.OpType == "LayerNormalization")
                    found[weight] = node.Attributes.TryGetValue("epsilon", out var a) && a.Float is { } e ? e : 1e-5f;
                else if (node.OpType == "Mul" && node.Inputs.Count == 2)
                {
                    var div = graph.Producer(node.Inputs[0] == weight ? node.Inputs[1] : node.Inputs[0]);
                    var sqrt = div is { OpType: "Div", Inputs.Count: 2 } ? graph.Producer(div.Inputs[1]) : null;
                    var add = sqrt is { OpType: "Sqrt" } ? graph.Producer(sqrt.Inputs[0]) : null;
                    if (add is { OpType: "Add", Inputs.Count: 2 }
                        && add.Inputs.Select(graph.ConstantValue).FirstOrDefault(t => t is { DataType: OnnxTensor.Float, ElementCount: 1 }) is { } eps)
                        found[weight] = eps.ReadFloats()[0];
                }
            }
            if (!found.ContainsKey(weight)) throw new PeftException($"{source}: cannot find the epsilon of the LayerNorm using '{weight}'");
        }
        var distinct = found.Values.Distinct().ToList();
        if (distinct.Count != 1)
            throw new PeftException($"{source}: LayerNorms use different epsilons ({string.Join(", ", distinct)}); BertModel has one layer_norm_eps");
        // The graph holds float32; its shortest round-trip text is the value that was exported (1e-12, not 9.9999998e-13).
        return double.Parse(distinct[0].ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>BERT's "gelu" is the exact erf form; an export with the tanh approximation would need another hidden_act.</summary>
    private static void CheckGelu(OnnxGraph graph, int layers, string source)
    {
        int erf = graph.Nodes.Count(n => n.OpType == "Erf");
        int fused = graph.Nodes.Count(n => n.OpType == "Gelu" && !(n.Attributes.TryGetValue("approximate", out _)));
        if (erf + fused != layers)
            throw new PeftException($"{source}: expected one exact GELU (Erf) per encoder layer, found {erf + fused} for {layers} layers");
    }

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.")]
    private static partial Regex LayerName();
}
