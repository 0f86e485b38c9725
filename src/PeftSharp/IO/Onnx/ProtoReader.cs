using System.Buffers.Binary;
using System.Text;

namespace PeftSharp.IO.Onnx;

/// <summary>
/// The few protobuf wire-format primitives an ONNX model needs, over a byte range whose every length is checked
/// against what is left, so a truncated or hostile file ends in <see cref="OnnxFormatException"/>, never an
/// out-of-range read or a huge allocation. Written here rather than borrowed from Google.Protobuf, which reaches us
/// only as TorchSharp's transitive dependency.
/// </summary>
internal struct ProtoReader
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5;

    private readonly ReadOnlyMemory<byte> _data;
    private readonly string _source;
    private int _position;

    public ProtoReader(ReadOnlyMemory<byte> data, string source)
    {
        _data = data;
        _source = source;
        _position = 0;
    }

    public readonly bool AtEnd => _position >= _data.Length;

    /// <summary>The next field's number and wire type; false at the end of the message.</summary>
    public bool NextField(out int field, out int wireType)
    {
        field = 0;
        wireType = 0;
        if (AtEnd) return false;
        ulong key = ReadVarint();
        wireType = (int)(key & 7);
        ulong number = key >> 3;
        if (number == 0 || number > 536_870_911) throw Error($"field number {number} is out of range");
        if (wireType is StartGroup or EndGroup or > Fixed32) throw Error($"field {number} uses wire type {wireType}, which ONNX never writes");
        field = (int)number;
        return true;
    }

    public ulong ReadVarint()
    {
        var span = _data.Span;
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= span.Length) throw Error("the data ends inside a varint");
            byte b = span[_position++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Error("a varint is longer than 10 bytes");
    }

    public long ReadInt64() => (long)ReadVarint();

    public int ReadInt32() => (int)(long)ReadVarint();

    public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(4).Span);

    /// <summary>The bytes of a length-delimited field, as a slice of the input (no copy).</summary>
    public ReadOnlyMemory<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
            throw Error($"a field claims {length} bytes but only {_data.Length - _position} remain (truncated file?)");
        return Take((int)length);
    }

    public string ReadString()
    {
        var bytes = ReadBytes();
        try
        {
            return Strict.GetString(bytes.Span);
        }
        catch (DecoderFallbackException)
        {
            throw Error("a name is not valid UTF-8");
        }
    }

    public ProtoReader ReadMessage() => new(ReadBytes(), _source);

    /// <summary>A repeated int64 written either packed (one length-delimited run) or one varint per field.</summary>
    public void ReadInt64s(int wireType, List<long> into)
    {
        if (wireType == Varint)
        {
            into.Add(ReadInt64());
            return;
        }
        Expect(wireType, LengthDelimited, "a repeated integer");
        var packed = ReadMessage();
        while (!packed.AtEnd) into.Add(packed.ReadInt64());
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Take(8); break;
            case Fixed32: Take(4); break;
            case LengthDelimited: ReadBytes(); break;
            default: throw Error($"cannot skip wire type {wireType}");
        }
    }

    public readonly void Expect(int wireType, int expected, string what)
    {
        if (wireType != expected) throw Error($"{what} has wire type {wireType}, expected {expected}");
    }

    public readonly OnnxFormatException Error(string problem) => new(_source, problem);

    private ReadOnlyMemory<byte> Take(int count)
    {
        if (count > _data.Length - _position) throw Error($"the data ends {count - (_data.Length - _position)} byte(s) early");
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
