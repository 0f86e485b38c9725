namespace PeftSharp.IO.Onnx;

/// <summary>
/// The main graph of an ONNX model: initializers by name and nodes in file order, with the two edge look-ups an
/// importer needs (who produces a value, who consumes it). Subgraphs (If/Loop bodies) are not read.
/// </summary>
public sealed class OnnxGraph
{
    private readonly Dictionary<string, OnnxNode> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<OnnxNode>> _consumers = new(StringComparer.Ordinal);

    internal OnnxGraph(string name, IReadOnlyList<OnnxNode> nodes, IReadOnlyDictionary<string, OnnxTensor> initializers,
        IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, string source)
    {
        Name = name;
        Nodes = nodes;
        Initializers = initializers;
        Inputs = inputs;
        Outputs = outputs;
        foreach (var node in nodes)
        {
            foreach (var output in node.Outputs.Where(o => o.Length > 0))
                if (!_producer.TryAdd(output, node))
                    throw new OnnxFormatException(source, $"value '{output}' is produced by two nodes ('{_producer[output].Name}' and '{node.Name}')");
            foreach (var input in node.Inputs.Where(i => i.Length > 0).Distinct(StringComparer.Ordinal))
            {
                if (!_consumers.TryGetValue(input, out var list)) _consumers[input] = list = [];
                list.Add(node);
            }
        }
    }

    public string Name { get; }
    public IReadOnlyList<OnnxNode> Nodes { get; }
    public IReadOnlyDictionary<string, OnnxTensor> Initializers { get; }
    /// <summary>Names of the graph inputs (initializers excluded when the file lists them as inputs too).</summary>
    public IReadOnlyList<string> Inputs { get; }
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>The node that computes a value, or null for graph inputs and initializers.</summary>
    public OnnxNode? Producer(string value) => _producer.GetValueOrDefault(value);

    /// <summary>Nodes that read a value, in file order.</summary>
    public IReadOnlyList<OnnxNode> Consumers(string value) => _consumers.TryGetValue(value, out var list) ? list : [];

    /// <summary>A value that is fixed in the file: an initializer, or the output of a Constant node.</summary>
    public OnnxTensor? ConstantValue(string value)
    {
        if (Initializers.TryGetValue(value, out var init)) return init;
        return Producer(value) is { OpType: "Constant" } c && c.Attributes.TryGetValue("value", out var a) ? a.Tensor : null;
    }
}
