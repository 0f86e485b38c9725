namespace PeftSharp.IO.Onnx;

/// <summary>
/// An operator attribute, reduced to the kinds that carry numbers an importer may need: a float (LayerNormalization's
/// epsilon), an int, a tensor (a Constant's value) or a list of ints. Other kinds are kept as their name only.
/// </summary>
public sealed class OnnxAttribute
{
    internal OnnxAttribute(string name, float? f, long? i, OnnxTensor? t, IReadOnlyList<long> ints)
    {
        Name = name;
        Float = f;
        Int = i;
        Tensor = t;
        Ints = ints;
    }

    public string Name { get; }
    public float? Float { get; }
    public long? Int { get; }
    public OnnxTensor? Tensor { get; }
    public IReadOnlyList<long> Ints { get; }
}
