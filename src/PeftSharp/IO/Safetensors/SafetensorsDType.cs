namespace PeftSharp.IO.Safetensors;

/// <summary>
/// The element types PeftSharp reads and writes. Names are exactly the strings the safetensors header
/// uses, so a dtype prints the way a user sees it in the file. Only types TorchSharp can hold are here:
/// U16/U32/U64 and the 8-, 6- and 4-bit float types have no TorchSharp scalar type.
/// </summary>
public enum SafetensorsDType
{
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
}
