using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Recur.Tensors;

/// <summary>Element types of the safetensors format that Recur reads and writes.</summary>
public enum SafeTensorDType
{
    /// <summary>IEEE float64.</summary>
    F64,
    /// <summary>IEEE float32.</summary>
    F32,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned byte.</summary>
    U8,
}

/// <summary>One tensor's header entry.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">Its element type.</param>
/// <param name="Shape">Its dimensions.</param>
/// <param name="Begin">Start of its bytes, relative to the data section.</param>
/// <param name="End">End (exclusive) of its bytes, relative to the data section.</param>
public sealed record SafeTensorInfo(string Name, SafeTensorDType DType, int[] Shape, long Begin, long End)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// A parsed safetensors file: an 8-byte little-endian header length, a JSON header mapping names to
/// <c>{dtype, shape, data_offsets}</c> (plus an optional <c>__metadata__</c> of string values), then raw
/// little-endian data. Loading validates every bound and never executes anything.
/// </summary>
public sealed class SafeTensorsFile
{
    /// <summary>Largest header accepted (bytes).</summary>
    public const int MaxHeaderBytes = 100 * 1024 * 1024;

    /// <summary>Largest file <see cref="Load"/> accepts by default (bytes).</summary>
    public const long DefaultMaxFileBytes = 2L * 1024 * 1024 * 1024;

    private readonly byte[] bytes;
    private readonly long dataStart;
    private readonly Dictionary<string, SafeTensorInfo> tensors;

    private SafeTensorsFile(string source, byte[] bytes, long dataStart, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        SourceName = source;
        this.bytes = bytes;
        this.dataStart = dataStart;
        this.tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file name (or description) used in error messages.</summary>
    public string SourceName { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyCollection<string> Names => tensors.Keys;

    /// <summary>Whether a tensor is present.</summary>
    public bool Contains(string name) => tensors.ContainsKey(name);

    /// <summary>A tensor's header entry.</summary>
    public SafeTensorInfo Info(string name) =>
        tensors.TryGetValue(name, out var info) ? info
        : throw new RecurFormatException(SourceName, $"tensor '{name}'", $"expected a tensor named '{name}', found none (present: {string.Join(", ", tensors.Keys)})");

    /// <summary>Reads a file of at most <paramref name="maxBytes"/> bytes and validates its header.</summary>
    public static SafeTensorsFile Load(string path, long maxBytes = DefaultMaxFileBytes)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found", path);
        if (info.Length > maxBytes)
            throw new RecurFormatException(path, "file size", $"expected at most {maxBytes} bytes, found {info.Length}");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>
    /// Whether the first 8 bytes are printable text. A real header length is below 2^40 (its high bytes are zero,
    /// MaxHeaderBytes is far lower), so 8 printable bytes mean a text file, not a safetensors file.
    /// </summary>
    private static bool LooksLikeText(byte[] data)
    {
        for (int i = 0; i < 8; i++)
            if (data[i] is not ((>= 0x20 and < 0x7F) or (byte)'\t' or (byte)'\n' or (byte)'\r')) return false;
        return true;
    }

    private static string Printable(byte[] data) =>
        new(Encoding.ASCII.GetString(data, 0, Math.Min(data.Length, 24)).Select(c => c is >= ' ' and < '\x7f' ? c : ' ').ToArray());

    /// <summary>Parses and validates safetensors bytes; <paramref name="source"/> names them in errors.</summary>
    public static SafeTensorsFile Parse(byte[] data, string source)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length < 8)
            throw new RecurFormatException(source, "header length", $"expected at least 8 bytes, found {data.Length} (truncated file?)");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(data);
        if (LooksLikeText(data))
            throw new RecurFormatException(source, "header length",
                $"expected a safetensors file (an 8-byte little-endian header length, then a JSON header), found text (\"{Printable(data)}...\"): this is not a safetensors or Recur model file");
        if (headerLen > MaxHeaderBytes)
            throw new RecurFormatException(source, "header length", $"expected at most {MaxHeaderBytes} bytes, found {headerLen}");
        if (8 + (long)headerLen > data.Length)
            throw new RecurFormatException(source, "header length", $"header of {headerLen} bytes runs past the end of the {data.Length}-byte file (truncated file?)");
        long dataStart = 8 + (long)headerLen;
        long dataLength = data.Length - dataStart;

        // JsonDocument checks UTF-8 only when a string is read; check it all here, to name the byte.
        if (!System.Text.Unicode.Utf8.IsValid(data.AsSpan(8, (int)headerLen)))
        {
            int bad = 0;
            try { _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(data, 8, (int)headerLen); }
            catch (DecoderFallbackException e) { bad = Math.Max(e.Index, 0); }
            throw new RecurFormatException(source, $"JSON header (byte {8 + bad})", "expected UTF-8 text, found an invalid byte sequence");
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(data.AsMemory(8, (int)headerLen), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new RecurFormatException(source, $"JSON header (byte {8 + (e.BytePositionInLine ?? 0)})", JsonErrors.Problem(e));
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new RecurFormatException(source, "JSON header", $"expected an object, found {root.ValueKind}");
            var tensors = new Dictionary<string, SafeTensorInfo>();
            var metadata = new Dictionary<string, string>();
            try
            {
                foreach (var prop in root.EnumerateObject())
                {
                    if (tensors.ContainsKey(prop.Name) || (prop.Name == "__metadata__" && metadata.Count > 0))
                        throw new RecurFormatException(source, $"tensor '{prop.Name}'", "expected unique names, found a duplicate");
                    if (prop.Name == "__metadata__")
                    {
                        if (prop.Value.ValueKind != JsonValueKind.Object)
                            throw new RecurFormatException(source, "__metadata__", $"expected an object of strings, found {prop.Value.ValueKind}");
                        foreach (var m in prop.Value.EnumerateObject())
                        {
                            if (m.Value.ValueKind != JsonValueKind.String)
                                throw new RecurFormatException(source, $"__metadata__ field '{m.Name}'", $"expected a string, found {m.Value.ValueKind}");
                            metadata[m.Name] = m.Value.GetString()!;
                        }
                        continue;
                    }
                    tensors[prop.Name] = ParseEntry(source, prop.Name, prop.Value, dataLength);
                }
            }
            catch (InvalidOperationException)
            {
                // A name or string with an escaped lone surrogate (\ud800) cannot be read as a .NET string.
                throw new RecurFormatException(source, "JSON header", "expected valid JSON strings, found one that is not valid text (an escaped lone surrogate such as \\ud800, or invalid UTF-8)");
            }

            // Entries must tile the data section exactly: no overlaps, no holes.
            long expected = 0;
            foreach (var t in tensors.Values.OrderBy(t => t.Begin).ThenBy(t => t.End))
            {
                if (t.Begin != expected)
                    throw new RecurFormatException(source, $"tensor '{t.Name}' field 'data_offsets'",
                        t.Begin < expected ? $"overlaps the previous tensor (starts at {t.Begin}, previous ends at {expected})"
                                           : $"leaves a hole in the data (starts at {t.Begin}, previous ends at {expected})");
                expected = t.End;
            }
            if (expected != dataLength)
                throw new RecurFormatException(source, "data section", $"expected {expected} bytes of tensor data, found {dataLength}");
            return new SafeTensorsFile(source, data, dataStart, tensors, metadata);
        }
    }

    private static SafeTensorInfo ParseEntry(string source, string name, JsonElement e, long dataLength)
    {
        string where = $"tensor '{name}'";
        if (e.ValueKind != JsonValueKind.Object)
            throw new RecurFormatException(source, where, $"expected an object with dtype, shape and data_offsets, found {e.ValueKind}");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new RecurFormatException(source, $"{where} field 'dtype'", "expected a string, found none");
        SafeTensorDType dtype = dt.GetString() switch
        {
            "F64" => SafeTensorDType.F64,
            "F32" => SafeTensorDType.F32,
            "I64" => SafeTensorDType.I64,
            "I32" => SafeTensorDType.I32,
            "U8" => SafeTensorDType.U8,
            var other => throw new RecurFormatException(source, $"{where} field 'dtype'", $"expected one of F64, F32, I64, I32, U8, found '{other}'"),
        };
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new RecurFormatException(source, $"{where} field 'shape'", "expected an array of non-negative integers, found none");
        var shape = new List<int>();
        long count = 1;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int v) || v < 0)
                throw new RecurFormatException(source, $"{where} field 'shape'", $"expected non-negative integers, found {d.GetRawText()}");
            shape.Add(v);
            count *= v;
            if (count > Array.MaxLength)
                throw new RecurFormatException(source, $"{where} field 'shape'", $"expected at most {Array.MaxLength} elements, found more");
        }
        if (shape.Count > 8)
            throw new RecurFormatException(source, $"{where} field 'shape'", $"expected at most 8 dimensions, found {shape.Count}");
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new RecurFormatException(source, $"{where} field 'data_offsets'", "expected [begin, end], found none");
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new RecurFormatException(source, $"{where} field 'data_offsets'", $"expected 0 <= begin <= end, found {off.GetRawText()}");
        if (end > dataLength)
            throw new RecurFormatException(source, $"{where} field 'data_offsets'", $"end {end} runs past the {dataLength}-byte data section (truncated file?)");
        long bytesNeeded = count * SizeOf(dtype);
        if (end - begin != bytesNeeded)
            throw new RecurFormatException(source, $"{where} field 'data_offsets'",
                $"shape ({string.Join(", ", shape)}) of {dtype} needs {bytesNeeded} bytes, found {end - begin}");
        return new SafeTensorInfo(name, dtype, [.. shape], begin, end);
    }

    /// <summary>Bytes per element.</summary>
    public static int SizeOf(SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.F64 or SafeTensorDType.I64 => 8,
        SafeTensorDType.F32 or SafeTensorDType.I32 => 4,
        _ => 1,
    };

    private ReadOnlySpan<byte> Bytes(SafeTensorInfo t) => bytes.AsSpan((int)(dataStart + t.Begin), (int)(t.End - t.Begin));

    /// <summary>A floating-point tensor as float64 (F64 as stored, F32 widened).</summary>
    public double[] ReadFloat64(string name)
    {
        var t = Info(name);
        var raw = Bytes(t);
        var result = new double[t.ElementCount];
        switch (t.DType)
        {
            case SafeTensorDType.F64:
                for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]);
                break;
            case SafeTensorDType.F32:
                for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
                break;
            default:
                throw new RecurFormatException(SourceName, $"tensor '{name}' field 'dtype'", $"expected F64 or F32, found {t.DType}");
        }
        return result;
    }

    /// <summary>A floating-point tensor as float32 (F64 rounded to nearest).</summary>
    public float[] ReadFloat32(string name)
    {
        var t = Info(name);
        if (t.DType == SafeTensorDType.F32)
        {
            var raw = Bytes(t);
            var result = new float[t.ElementCount];
            for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]);
            return result;
        }
        return Array.ConvertAll(ReadFloat64(name), v => (float)v);
    }

    /// <summary>A floating-point tensor as a float32 <see cref="Tensor"/> with its shape.</summary>
    public Tensor ReadTensor(string name) => Tensor.FromArray(ReadFloat32(name), Info(name).Shape);

    /// <summary>An integer tensor as int64 (I64 as stored, I32 and U8 widened).</summary>
    public long[] ReadInt64(string name)
    {
        var t = Info(name);
        var raw = Bytes(t);
        var result = new long[t.ElementCount];
        switch (t.DType)
        {
            case SafeTensorDType.I64:
                for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]);
                break;
            case SafeTensorDType.I32:
                for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]);
                break;
            case SafeTensorDType.U8:
                for (int i = 0; i < result.Length; i++) result[i] = raw[i];
                break;
            default:
                throw new RecurFormatException(SourceName, $"tensor '{name}' field 'dtype'", $"expected I64, I32 or U8, found {t.DType}");
        }
        return result;
    }

    /// <summary>
    /// Writes a safetensors file atomically (temporary file, then rename). Float tensors are stored as F32.
    /// Names are written in the order given; data follows in the same order.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = tensors.Select(kv => (kv.Key, SafeTensorDType.F32, kv.Value.Shape.ToArray(), (ReadOnlyMemory<byte>)MemoryMarshal.AsBytes(kv.Value.Span).ToArray())).ToList();
        SaveRaw(path, entries, metadata);
    }

    /// <summary>Writes raw entries (name, dtype, shape, little-endian bytes) atomically.</summary>
    public static void SaveRaw(string path, IReadOnlyList<(string Name, SafeTensorDType DType, int[] Shape, ReadOnlyMemory<byte> Data)> entries,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine");
        var header = new MemoryStream();
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            var seen = new HashSet<string>();
            foreach (var (name, dtype, shape, data) in entries)
            {
                if (!seen.Add(name) || name == "__metadata__") throw new ArgumentException($"tensor name '{name}' is duplicated or reserved", nameof(entries));
                long expected = shape.Aggregate(1L, (a, d) => a * d) * SizeOf(dtype);
                if (data.Length != expected)
                    throw new ArgumentException($"tensor '{name}': shape ({string.Join(", ", shape)}) of {dtype} needs {expected} bytes, got {data.Length}", nameof(entries));
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype.ToString());
                w.WriteStartArray("shape");
                foreach (int d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += data.Length;
            }
            w.WriteEndObject();
        }
        // Pad the header with spaces to a multiple of 8 bytes, as the reference implementation does.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');
        AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            fs.Write(len);
            header.Position = 0;
            header.CopyTo(fs);
            foreach (var e in entries) fs.Write(e.Data.Span);
        });
    }

    /// <summary>Human-readable summary of the header (names, dtypes, shapes).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var t in tensors.Values) sb.AppendLine($"{t.Name}: {t.DType} ({string.Join(", ", t.Shape)})");
        return sb.ToString();
    }
}
