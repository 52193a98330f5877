using System.Runtime.InteropServices;
using System.Text;

namespace Recur.IO.Onnx;

/// <summary>
/// A minimal ONNX model builder that writes the protobuf wire format directly (ModelProto, GraphProto, NodeProto,
/// TensorProto, ValueInfoProto), so exporting needs no protobuf or ONNX package. Only the fields Recur's exporter
/// uses are supported.
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>TensorProto.DataType values used here.</summary>
    public enum ElementType { Float = 1, Int32 = 6, Int64 = 7 }

    private readonly List<byte[]> nodes = [];
    private readonly List<byte[]> initializers = [];
    private readonly List<byte[]> inputs = [];
    private readonly List<byte[]> outputs = [];
    private int counter;

    /// <summary>The opset this exporter targets.</summary>
    public const int Opset = 17;

    /// <summary>A fresh value name with a readable prefix.</summary>
    public string Name(string prefix) => $"{prefix}_{counter++}";

    /// <summary>Adds a float initializer.</summary>
    public string Initializer(string name, float[] values, params long[] dims)
    {
        initializers.Add(Tensor(name, ElementType.Float, dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        return name;
    }

    /// <summary>Adds an int64 initializer.</summary>
    public string Initializer(string name, long[] values, params long[] dims)
    {
        initializers.Add(Tensor(name, ElementType.Int64, dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        return name;
    }

    /// <summary>Declares a graph input; a null dimension is symbolic (named by <paramref name="symbols"/>).</summary>
    public void Input(string name, ElementType type, long?[] dims, string[] symbols) => inputs.Add(ValueInfo(name, type, dims, symbols));

    /// <summary>Declares a graph output.</summary>
    public void Output(string name, ElementType type, long?[] dims, string[] symbols) => outputs.Add(ValueInfo(name, type, dims, symbols));

    /// <summary>Adds a node; attributes are (name, value) with value int, long, float, string, long[] or string[].</summary>
    public void Node(string opType, string[] nodeInputs, string[] nodeOutputs, params (string Name, object Value)[] attributes)
    {
        var w = new ProtoWriter();
        foreach (var i in nodeInputs) w.String(1, i);
        foreach (var o in nodeOutputs) w.String(2, o);
        w.String(3, Name(opType.ToLowerInvariant()));
        w.String(4, opType);
        foreach (var (name, value) in attributes) w.Message(5, Attribute(name, value));
        nodes.Add(w.ToArray());
    }

    /// <summary>The serialized ModelProto.</summary>
    public byte[] Serialize(string graphName, string producerVersion)
    {
        var g = new ProtoWriter();
        foreach (var n in nodes) g.Message(1, n);
        g.String(2, graphName);
        foreach (var t in initializers) g.Message(5, t);
        foreach (var i in inputs) g.Message(11, i);
        foreach (var o in outputs) g.Message(12, o);

        var opset = new ProtoWriter();
        opset.String(1, "");
        opset.Int64(2, Opset);

        var m = new ProtoWriter();
        m.Int64(1, 8);                 // ir_version 8 (ONNX 1.10+, opsets up to 17)
        m.String(2, "recur");          // producer_name
        m.String(3, producerVersion);  // producer_version
        m.Message(7, g.ToArray());     // graph
        m.Message(8, opset.ToArray()); // opset_import
        return m.ToArray();
    }

    private static byte[] Tensor(string name, ElementType type, long[] dims, byte[] raw)
    {
        var w = new ProtoWriter();
        foreach (long d in dims) w.Int64(1, d);
        w.Int64(2, (long)type);
        w.String(8, name);
        w.Bytes(9, raw); // raw_data, little-endian
        return w.ToArray();
    }

    private static byte[] ValueInfo(string name, ElementType type, long?[] dims, string[] symbols)
    {
        var shape = new ProtoWriter();
        int s = 0;
        foreach (var d in dims)
        {
            var dim = new ProtoWriter();
            if (d is { } v) dim.Int64(1, v);
            else dim.String(2, symbols[s++]);
            shape.Message(1, dim.ToArray());
        }
        var tensorType = new ProtoWriter();
        tensorType.Int64(1, (long)type);
        tensorType.Message(2, shape.ToArray());
        var typeProto = new ProtoWriter();
        typeProto.Message(1, tensorType.ToArray());
        var w = new ProtoWriter();
        w.String(1, name);
        w.Message(2, typeProto.ToArray());
        return w.ToArray();
    }

    private static byte[] Attribute(string name, object value)
    {
        var w = new ProtoWriter();
        w.String(1, name);
        switch (value)
        {
            case float f: w.Float(2, f); w.Int64(20, 1); break;
            case int i: w.Int64(3, i); w.Int64(20, 2); break;
            case long l: w.Int64(3, l); w.Int64(20, 2); break;
            case string str: w.Bytes(4, Encoding.UTF8.GetBytes(str)); w.Int64(20, 3); break;
            case long[] ls: foreach (long v in ls) w.Int64(8, v); w.Int64(20, 7); break;
            case string[] ss: foreach (var v in ss) w.Bytes(9, Encoding.UTF8.GetBytes(v)); w.Int64(20, 8); break;
            default: throw new ArgumentException($"unsupported ONNX attribute type {value.GetType().Name} for '{name}'");
        }
        return w.ToArray();
    }
}

/// <summary>Protobuf wire-format encoding of the field kinds ONNX needs.</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream stream = new();

    private void Varint(ulong v)
    {
        while (v >= 0x80)
        {
            stream.WriteByte((byte)(v | 0x80));
            v >>= 7;
        }
        stream.WriteByte((byte)v);
    }

    private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    public void Int64(int field, long value)
    {
        Tag(field, 0);
        Varint((ulong)value);
    }

    public void Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(b, value);
        stream.Write(b);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Varint((ulong)value.Length);
        stream.Write(value);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public void Message(int field, byte[] message) => Bytes(field, message);

    public byte[] ToArray() => stream.ToArray();
}
