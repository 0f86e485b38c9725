using System.Text;

namespace PeftSharp.Tests.Import;

/// <summary>A minimal protobuf writer for building small ONNX files (and broken ones) inside tests.</summary>
internal sealed class ProtoBytes
{
    private readonly MemoryStream _stream = new();

    public ProtoBytes Varint(int field, long value) => Key(field, 0).Raw(value);
    public ProtoBytes Bytes(int field, byte[] value) { Key(field, 2).Raw(value.Length); _stream.Write(value); return this; }
    public ProtoBytes String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));
    public ProtoBytes Message(int field, ProtoBytes value) => Bytes(field, value.ToArray());
    public ProtoBytes Fixed32(int field, float value) { Key(field, 5); _stream.Write(BitConverter.GetBytes(value)); return this; }

    public byte[] ToArray() => _stream.ToArray();

    /// <summary>A TensorProto; float32 data as raw_data, or as packed float_data when <paramref name="packed"/>.</summary>
    public static ProtoBytes Tensor(string name, long[] dims, float[] values, bool packed = false)
    {
        var t = new ProtoBytes();
        foreach (var d in dims) t.Varint(1, d);
        t.Varint(2, 1).String(8, name);
        var data = values.SelectMany(BitConverter.GetBytes).ToArray();
        return packed ? t.Bytes(4, data) : t.Bytes(9, data);
    }

    public static ProtoBytes Node(string op, string[] inputs, string[] outputs, params ProtoBytes[] attributes)
    {
        var n = new ProtoBytes();
        foreach (var i in inputs) n.String(1, i);
        foreach (var o in outputs) n.String(2, o);
        n.String(3, op + "_0").String(4, op);
        foreach (var a in attributes) n.Message(5, a);
        return n;
    }

    /// <summary>A ModelProto with ir_version 7, opset 13 and the given graph.</summary>
    public static byte[] Model(ProtoBytes graph) =>
        new ProtoBytes().Varint(1, 7).String(2, "test").Message(8, new ProtoBytes().String(1, "").Varint(2, 13)).Message(7, graph).ToArray();

    private ProtoBytes Key(int field, int wire) => Raw(((long)field << 3) | (uint)wire);

    private ProtoBytes Raw(long value)
    {
        ulong v = (ulong)value;
        while (v >= 0x80) { _stream.WriteByte((byte)(v | 0x80)); v >>= 7; }
        _stream.WriteByte((byte)v);
        return this;
    }
}
