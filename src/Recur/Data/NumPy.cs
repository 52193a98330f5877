using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Recur.Data;

/// <summary>
/// One array of a NumPy <c>.npy</c> file: its shape, its dtype as NumPy writes it (<c>descr</c>, e.g. <c>&lt;f4</c>),
/// and its values in C (row-major) order: numbers (floats, integers and booleans, as doubles) or strings (the
/// <c>U</c> and <c>S</c> dtypes).
/// </summary>
public sealed class NpyArray
{
    /// <summary>The dimensions (empty for a scalar).</summary>
    public required int[] Shape { get; init; }

    /// <summary>The dtype descriptor of the file, e.g. <c>&lt;f4</c>, <c>&lt;i8</c>, <c>&lt;U5</c>.</summary>
    public required string DType { get; init; }

    /// <summary>The values of a numeric or boolean array (booleans as 0 and 1), row-major; null for strings.</summary>
    public double[]? Numbers { get; init; }

    /// <summary>The values of a string array, row-major; null for numbers.</summary>
    public string[]? Strings { get; init; }

    /// <summary>Number of elements.</summary>
    public int Count => Numbers?.Length ?? Strings!.Length;

    /// <summary>Whether the dtype is a floating-point one (<c>f2</c>, <c>f4</c>, <c>f8</c>).</summary>
    public bool IsFloat => DType.Length > 1 && DType[1] == 'f';

    /// <summary>The shape as NumPy prints it: <c>(3, 4)</c>, <c>(5,)</c>, <c>()</c>.</summary>
    public string ShapeText => Shape.Length == 1 ? $"({Shape[0]},)" : $"({string.Join(", ", Shape)})";

    /// <summary>Element <paramref name="index"/> as text: a string as it is, a number in its shortest round-trip form (1.0 is "1").</summary>
    public string Text(int index) => Strings is not null ? Strings[index] : Numbers![index].ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>
/// Reads NumPy's array files: <c>.npy</c> (format versions 1.0, 2.0 and 3.0) and <c>.npz</c> (a zip of <c>.npy</c>
/// files, stored or deflated, as <c>np.savez</c> and <c>np.savez_compressed</c> write them). Supported dtypes: float16/32/64,
/// signed and unsigned integers of 1 to 8 bytes, bool, and fixed-width strings (<c>U</c>, <c>S</c>), in either byte
/// order. Object arrays (pickles) are refused, never unpickled; so are Fortran-ordered and structured arrays. Every
/// error names the file and what was expected versus found.
/// </summary>
public static partial class NumPy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads one <c>.npy</c> file (gzip-compressed when the name ends in <c>.gz</c>), at most <see cref="ReadLimits.MaxFileBytes"/>.</summary>
    public static NpyArray ReadNpy(string path, ReadLimits? limits = null) => ParseNpy(DataFiles.ReadAllBytes(path, limits), path);

    /// <summary>
    /// Reads every array of an <c>.npz</c> file, by name (the entry name without <c>.npy</c>); the decompressed arrays
    /// together may hold at most <see cref="ReadLimits.MaxFileBytes"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, NpyArray> ReadNpz(string path, ReadLimits? limits = null)
    {
        limits ??= ReadLimits.Default;
        byte[] bytes = DataFiles.ReadAllBytes(path, limits);
        var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        long total = 0;
        try
        {
            using var zip = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read);
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue;
                string name = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                string source = $"{path}: array '{name}'";
                long remaining = limits.MaxFileBytes - total;
                if (entry.Length > remaining)
                    throw new RecurFormatException(path, $"array '{name}'", $"expected at most {limits.MaxFileBytes} bytes of arrays in all (the file size limit), found {total + entry.Length}");
                byte[] data;
                using (var s = entry.Open()) data = DataFiles.ReadAllBytes(s, source, gzip: false, limits with { MaxFileBytes = Math.Max(0, remaining) });
                total += data.Length;
                arrays[name] = ParseNpy(data, source);
            }
        }
        catch (InvalidDataException e)
        {
            throw new RecurFormatException(path, "file", $"expected an .npz file (a zip archive of .npy arrays), found a damaged or different file: {e.Message}");
        }
        if (arrays.Count == 0) throw new RecurFormatException(path, "file", "expected at least one array in the .npz archive, found none");
        return arrays;
    }

    /// <summary>Parses the bytes of one <c>.npy</c> file; <paramref name="source"/> names it in errors.</summary>
    public static NpyArray ParseNpy(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
            throw new RecurFormatException(source, "magic", $"expected a NumPy .npy file (starting with \\x93NUMPY), found {(bytes.Length < 6 ? $"{bytes.Length} bytes" : $"'{Printable(bytes[..6])}'")}");
        int major = bytes[6], minor = bytes[7];
        if (major is < 1 or > 3) throw new RecurFormatException(source, "version", $"expected .npy format version 1.0, 2.0 or 3.0, found {major}.{minor}");
        int prefix = major == 1 ? 10 : 12;
        if (bytes.Length < prefix) throw new RecurFormatException(source, "header", $"expected a {prefix}-byte preamble, found {bytes.Length} bytes (truncated file?)");
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (prefix + headerLength > bytes.Length)
            throw new RecurFormatException(source, "header", $"expected a header of {headerLength} bytes, found {bytes.Length - prefix} (truncated file?)");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes.Slice(prefix, (int)headerLength));

        if (StructuredDescr().IsMatch(header))
            throw new RecurFormatException(source, "header field 'descr'", "expected a plain dtype, found a structured (record) dtype: save each field as its own array");
        var descr = DescrField().Match(header);
        if (!descr.Success) throw new RecurFormatException(source, "header field 'descr'", $"expected the dtype, found none in {Quote(header)}");
        var fortran = FortranField().Match(header);
        if (!fortran.Success) throw new RecurFormatException(source, "header field 'fortran_order'", $"expected True or False, found none in {Quote(header)}");
        if (fortran.Groups[1].Value == "True")
            throw new RecurFormatException(source, "header field 'fortran_order'", "expected C (row-major) order, found a Fortran-ordered array: save np.ascontiguousarray(x) instead");
        var shapeMatch = ShapeField().Match(header);
        if (!shapeMatch.Success) throw new RecurFormatException(source, "header field 'shape'", $"expected a tuple of sizes, found none in {Quote(header)}");
        var shape = new List<int>();
        foreach (string part in shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string p = part.TrimEnd('L');
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                throw new RecurFormatException(source, "header field 'shape'", $"expected non-negative sizes below 2^31, found '{part}'");
            shape.Add(d);
        }
        long count = 1;
        foreach (int d in shape) count = Math.Min(count * d, long.MaxValue / 64);

        string dtype = descr.Groups[1].Value;
        var (kind, size, bigEndian) = ParseDType(dtype, source);
        long need = count * size;
        long have = bytes.Length - prefix - headerLength;
        if (have != need)
            throw new RecurFormatException(source, "data", $"expected {need} bytes for shape {(shape.Count == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})")} of {dtype}, found {have}{(have < need ? " (truncated file?)" : " (extra bytes after the array)")}");
        if (count > Array.MaxLength) throw new RecurFormatException(source, "header field 'shape'", $"expected at most {Array.MaxLength} elements, found {count}");
        var data = bytes[(int)(prefix + headerLength)..];
        int n = (int)count;
        if (kind is 'U' or 'S')
        {
            var strings = new string[n];
            for (int i = 0; i < n; i++) strings[i] = DecodeString(data.Slice(i * size, size), kind, bigEndian, source, i);
            return new NpyArray { Shape = [.. shape], DType = dtype, Strings = strings };
        }
        var numbers = new double[n];
        for (int i = 0; i < n; i++) numbers[i] = ReadNumber(data.Slice(i * size, size), kind, bigEndian);
        return new NpyArray { Shape = [.. shape], DType = dtype, Numbers = numbers };
    }

    private static (char Kind, int Size, bool BigEndian) ParseDType(string dtype, string source)
    {
        string Bad(string why) => throw new RecurFormatException(source, "header field 'descr'",
            $"expected a numeric, bool or string dtype (f2/f4/f8, i1..i8, u1..u8, b1, U, S), found '{dtype}'{why}");
        if (dtype.Length < 2) Bad("");
        int at = dtype[0] is '<' or '>' or '|' or '=' ? 1 : 0;
        bool big = dtype[0] == '>' || (dtype[0] == '=' && !BitConverter.IsLittleEndian);
        char kind = dtype[at];
        if (kind == 'O') Bad(" (an object array, stored as a Python pickle, which is never executed: save numbers or fixed-width strings)");
        if (!int.TryParse(dtype.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int width) || width < 1) Bad("");
        int size = kind switch
        {
            'f' when width is 2 or 4 or 8 => width,
            'i' or 'u' when width is 1 or 2 or 4 or 8 => width,
            'b' when width == 1 => 1,
            'U' when width <= 1 << 20 => width * 4,
            'S' when width <= 1 << 22 => width,
            _ => 0,
        };
        if (size == 0) Bad("");
        return (kind, size, big);
    }

    private static double ReadNumber(ReadOnlySpan<byte> b, char kind, bool big) => (kind, b.Length) switch
    {
        ('f', 2) => (double)(big ? BinaryPrimitives.ReadHalfBigEndian(b) : BinaryPrimitives.ReadHalfLittleEndian(b)),
        ('f', 4) => big ? BinaryPrimitives.ReadSingleBigEndian(b) : BinaryPrimitives.ReadSingleLittleEndian(b),
        ('f', _) => big ? BinaryPrimitives.ReadDoubleBigEndian(b) : BinaryPrimitives.ReadDoubleLittleEndian(b),
        ('i', 1) => (sbyte)b[0],
        ('i', 2) => big ? BinaryPrimitives.ReadInt16BigEndian(b) : BinaryPrimitives.ReadInt16LittleEndian(b),
        ('i', 4) => big ? BinaryPrimitives.ReadInt32BigEndian(b) : BinaryPrimitives.ReadInt32LittleEndian(b),
        ('i', _) => big ? BinaryPrimitives.ReadInt64BigEndian(b) : BinaryPrimitives.ReadInt64LittleEndian(b),
        ('u', 1) or ('b', _) => b[0],
        ('u', 2) => big ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b),
        ('u', 4) => big ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b),
        _ => big ? BinaryPrimitives.ReadUInt64BigEndian(b) : BinaryPrimitives.ReadUInt64LittleEndian(b),
    };

    private static string DecodeString(ReadOnlySpan<byte> b, char kind, bool big, string source, int index)
    {
        if (kind == 'S')
        {
            int end = b.IndexOf((byte)0);
            return Encoding.Latin1.GetString(end < 0 ? b : b[..end]);
        }
        var sb = new StringBuilder();
        for (int i = 0; i < b.Length; i += 4)
        {
            uint cp = big ? BinaryPrimitives.ReadUInt32BigEndian(b[i..]) : BinaryPrimitives.ReadUInt32LittleEndian(b[i..]);
            if (cp == 0) break;
            if (cp > 0x10FFFF || cp is >= 0xD800 and <= 0xDFFF)
                throw new RecurFormatException(source, $"element {index}", $"expected a Unicode code point, found 0x{cp:X}");
            sb.Append(char.ConvertFromUtf32((int)cp));
        }
        return sb.ToString();
    }

    private static string Printable(ReadOnlySpan<byte> b)
    {
        var sb = new StringBuilder();
        foreach (byte x in b) sb.Append(x is >= 32 and < 127 ? ((char)x).ToString() : $"\\x{x:x2}");
        return sb.ToString();
    }

    private static string Quote(string header) => header.Length <= 80 ? $"\"{header.Trim()}\"" : $"\"{header[..77]}...\"";

    [GeneratedRegex(@"['""]descr['""]\s*:\s*\[")]
    private static partial Regex StructuredDescr();

    [GeneratedRegex(@"['""]descr['""]\s*:\s*['""]([^'""]*)['""]")]
    private static partial Regex DescrField();

    [GeneratedRegex(@"['""]fortran_order['""]\s*:\s*(True|False)")]
    private static partial Regex FortranField();

    [GeneratedRegex(@"['""]shape['""]\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeField();
}
