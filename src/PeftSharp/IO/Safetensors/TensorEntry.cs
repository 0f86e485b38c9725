namespace PeftSharp.IO.Safetensors;

/// <summary>
/// What the header says about one tensor, already validated. Lets callers check names, shapes and dtypes
/// (e.g. against a model config) without reading any tensor data.
/// Begin and End are byte offsets relative to the start of the data section, End exclusive.
/// </summary>
public sealed record TensorEntry(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;

    /// <summary>Product of the shape; 1 for a scalar (shape []), 0 when any dimension is 0.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n = checked(n * d);
            return n;
        }
    }

    public override string ToString() =>
        $"{Name}: {SafetensorsDTypes.ToHeaderString(DType)} [{string.Join(", ", Shape)}] @ [{Begin}, {End})";
}
