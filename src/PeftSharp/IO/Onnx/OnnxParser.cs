namespace PeftSharp.IO.Onnx;

/// <summary>
/// onnx.proto's ModelProto, GraphProto, NodeProto, AttributeProto and TensorProto, field by field (numbers from
/// onnx/onnx.proto). Unknown fields are skipped as protobuf requires; fields we read are checked for wire type.
/// </summary>
internal static class OnnxParser
{
    public static OnnxModel ParseModel(ReadOnlyMemory<byte> bytes, string source)
    {
        if (bytes.IsEmpty) throw new OnnxFormatException(source, "the file is empty");
        var r = new ProtoReader(bytes, source);
        long ir = 0;
        string producer = "", version = "";
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal);
        OnnxGraph? graph = null;
        while (r.NextField(out int field, out int wire))
        {
            switch (field)
            {
                case 1: r.Expect(wire, ProtoReader.Varint, "ir_version"); ir = r.ReadInt64(); break;
                case 2: r.Expect(wire, ProtoReader.LengthDelimited, "producer_name"); producer = r.ReadString(); break;
                case 3: r.Expect(wire, ProtoReader.LengthDelimited, "producer_version"); version = r.ReadString(); break;
                case 7:
                    r.Expect(wire, ProtoReader.LengthDelimited, "graph");
                    if (graph != null) throw r.Error("the model has two graphs");
                    graph = ParseGraph(r.ReadMessage(), source);
                    break;
                case 8:
                    r.Expect(wire, ProtoReader.LengthDelimited, "opset_import");
                    var (domain, opset) = ParseOpset(r.ReadMessage());
                    opsets[domain] = opset;
                    break;
                default: r.Skip(wire); break;
            }
        }
        if (ir <= 0 || graph == null)
            throw new OnnxFormatException(source, ir <= 0 ? "no ir_version (is this an ONNX file?)" : "the model has no graph");
        return new OnnxModel(ir, producer, version, opsets, graph, source);
    }

    private static (string, long) ParseOpset(ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (r.NextField(out int field, out int wire))
        {
            if (field == 1 && wire == ProtoReader.LengthDelimited) domain = r.ReadString();
            else if (field == 2 && wire == ProtoReader.Varint) version = r.ReadInt64();
            else r.Skip(wire);
        }
        return (domain, version);
    }

    private static OnnxGraph ParseGraph(ProtoReader r, string source)
    {
        string name = "";
        var nodes = new List<OnnxNode>();
        var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        var inputs = new List<string>();
        var outputs = new List<string>();
        while (r.NextField(out int field, out int wire))
        {
            switch (field)
            {
                case 1: r.Expect(wire, ProtoReader.LengthDelimited, "node"); nodes.Add(ParseNode(r.ReadMessage(), source)); break;
                case 2: r.Expect(wire, ProtoReader.LengthDelimited, "graph name"); name = r.ReadString(); break;
                case 5:
                    r.Expect(wire, ProtoReader.LengthDelimited, "initializer");
                    var t = ParseTensor(r.ReadMessage(), source);
                    if (t.Name.Length == 0) throw r.Error("an initializer has no name");
                    if (!initializers.TryAdd(t.Name, t)) throw r.Error($"initializer '{t.Name}' appears twice");
                    break;
                case 11: r.Expect(wire, ProtoReader.LengthDelimited, "input"); inputs.Add(ParseValueInfoName(r.ReadMessage())); break;
                case 12: r.Expect(wire, ProtoReader.LengthDelimited, "output"); outputs.Add(ParseValueInfoName(r.ReadMessage())); break;
                default: r.Skip(wire); break;
            }
        }
        return new OnnxGraph(name, nodes, initializers, inputs.Where(i => !initializers.ContainsKey(i)).ToList(), outputs, source);
    }

    private static string ParseValueInfoName(ProtoReader r)
    {
        string name = "";
        while (r.NextField(out int field, out int wire))
        {
            if (field == 1 && wire == ProtoReader.LengthDelimited) name = r.ReadString();
            else r.Skip(wire);
        }
        return name;
    }

    private static OnnxNode ParseNode(ProtoReader r, string source)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        string name = "", op = "", domain = "";
        var attributes = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal);
        while (r.NextField(out int field, out int wire))
        {
            switch (field)
            {
                case 1: r.Expect(wire, ProtoReader.LengthDelimited, "node input"); inputs.Add(r.ReadString()); break;
                case 2: r.Expect(wire, ProtoReader.LengthDelimited, "node output"); outputs.Add(r.ReadString()); break;
                case 3: r.Expect(wire, ProtoReader.LengthDelimited, "node name"); name = r.ReadString(); break;
                case 4: r.Expect(wire, ProtoReader.LengthDelimited, "op_type"); op = r.ReadString(); break;
                case 5:
                    r.Expect(wire, ProtoReader.LengthDelimited, "attribute");
                    var a = ParseAttribute(r.ReadMessage(), source);
                    if (!attributes.TryAdd(a.Name, a)) throw r.Error($"node '{name}' has attribute '{a.Name}' twice");
                    break;
                case 7: r.Expect(wire, ProtoReader.LengthDelimited, "domain"); domain = r.ReadString(); break;
                default: r.Skip(wire); break;
            }
        }
        if (op.Length == 0) throw r.Error($"node '{name}' has no op_type");
        return new OnnxNode(name, op, domain, inputs, outputs, attributes);
    }

    private static OnnxAttribute ParseAttribute(ProtoReader r, string source)
    {
        string name = "";
        float? f = null;
        long? i = null;
        OnnxTensor? t = null;
        var ints = new List<long>();
        while (r.NextField(out int field, out int wire))
        {
            switch (field)
            {
                case 1: r.Expect(wire, ProtoReader.LengthDelimited, "attribute name"); name = r.ReadString(); break;
                case 2: r.Expect(wire, ProtoReader.Fixed32, "attribute f"); f = r.ReadFloat(); break;
                case 3: r.Expect(wire, ProtoReader.Varint, "attribute i"); i = r.ReadInt64(); break;
                case 5: r.Expect(wire, ProtoReader.LengthDelimited, "attribute t"); t = ParseTensor(r.ReadMessage(), source); break;
                case 8: r.ReadInt64s(wire, ints); break;
                default: r.Skip(wire); break;
            }
        }
        return new OnnxAttribute(name, f, i, t, ints);
    }

    private static OnnxTensor ParseTensor(ProtoReader r, string source)
    {
        var dims = new List<long>();
        int dataType = 0;
        string name = "";
        ReadOnlyMemory<byte> raw = default;
        List<float>? floats = null;
        List<long>? int64s = null;
        bool external = false;
        while (r.NextField(out int field, out int wire))
        {
            switch (field)
            {
                case 1: r.ReadInt64s(wire, dims); break;
                case 2: r.Expect(wire, ProtoReader.Varint, "data_type"); dataType = r.ReadInt32(); break;
                case 4:
                    floats ??= [];
                    if (wire == ProtoReader.Fixed32) floats.Add(r.ReadFloat());
                    else
                    {
                        r.Expect(wire, ProtoReader.LengthDelimited, "float_data");
                        var packed = r.ReadMessage();
                        while (!packed.AtEnd) floats.Add(packed.ReadFloat());
                    }
                    break;
                case 7: int64s ??= []; r.ReadInt64s(wire, int64s); break;
                case 8: r.Expect(wire, ProtoReader.LengthDelimited, "tensor name"); name = r.ReadString(); break;
                case 9: r.Expect(wire, ProtoReader.LengthDelimited, "raw_data"); raw = r.ReadBytes(); break;
                case 14: r.Expect(wire, ProtoReader.Varint, "data_location"); external = r.ReadInt64() == 1; break;
                default: r.Skip(wire); break;
            }
        }
        if (external) throw r.Error($"tensor '{name}' keeps its data in an external file, which PeftSharp does not read");
        return new OnnxTensor(name, dims.ToArray(), dataType, raw, floats?.ToArray(), int64s?.ToArray(), source);
    }
}
