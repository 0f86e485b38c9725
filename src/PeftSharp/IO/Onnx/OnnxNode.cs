namespace PeftSharp.IO.Onnx;

/// <summary>
/// One operator of an ONNX graph. Importers follow its input and output names to learn what an anonymous
/// initializer is (the weight of the MatMul whose result gets the named bias added, for instance).
/// </summary>
public sealed class OnnxNode
{
    internal OnnxNode(string name, string opType, string domain, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs,
        IReadOnlyDictionary<string, OnnxAttribute> attributes)
    {
        Name = name;
        OpType = opType;
        Domain = domain;
        Inputs = inputs;
        Outputs = outputs;
        Attributes = attributes;
    }

    public string Name { get; }
    public string OpType { get; }
    /// <summary>Empty for the standard ai.onnx operators; "com.microsoft" for ONNX Runtime's fused ones.</summary>
    public string Domain { get; }
    /// <summary>Value names; an empty string marks an omitted optional input.</summary>
    public IReadOnlyList<string> Inputs { get; }
    public IReadOnlyList<string> Outputs { get; }
    public IReadOnlyDictionary<string, OnnxAttribute> Attributes { get; }

    public override string ToString() => $"{OpType} {Name} ({string.Join(", ", Inputs)}) -> ({string.Join(", ", Outputs)})";
}
