using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;

namespace Recur.Data;

/// <summary>Limits on untrusted input, so a hostile file cannot make Recur allocate without bound.</summary>
/// <param name="MaxFileBytes">Largest file (after decompression) read into memory.</param>
/// <param name="MaxSequenceLength">Longest sequence (in tokens or steps) accepted.</param>
/// <param name="MaxVocabulary">Largest vocabulary built or loaded.</param>
public sealed record ReadLimits(long MaxFileBytes = 512L * 1024 * 1024, int MaxSequenceLength = 100_000, int MaxVocabulary = 1_000_000)
{
    /// <summary>The defaults.</summary>
    public static ReadLimits Default { get; } = new();
}

/// <summary>Reading text data files: transparent gzip, strict UTF-8 (or UTF-16/32 with a byte-order mark) with a clear error, size limits.</summary>
public static class DataFiles
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The whole file as text. <c>.gz</c> files are decompressed. Invalid UTF-8 is an error naming the byte offset.</summary>
    public static string ReadAllText(string path, ReadLimits? limits = null) => DecodeText(ReadAllBytes(path, limits), path);

    /// <summary>
    /// Bytes as strict text: UTF-8 (a leading byte-order mark is dropped), or UTF-16 / UTF-32 in either byte order
    /// when the bytes start with that encoding's byte-order mark. Invalid bytes are a <see cref="RecurFormatException"/>
    /// naming <paramref name="source"/>, the line, the byte offset and the encoding.
    /// </summary>
    public static string DecodeText(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var (encoding, name, bom, unit) = Detect(bytes);
        try
        {
            return encoding.GetString(bytes, bom, bytes.Length - bom);
        }
        catch (DecoderFallbackException e)
        {
            long offset = bom + (e.Index >= 0 ? e.Index : 0);
            int line = 1;
            for (long i = bom; i + unit <= Math.Min(offset, bytes.Length); i += unit)
                if (IsNewline(bytes, i, unit, name)) line++;
            string hint = unit == 1 && bytes.Length >= 2 && (bytes[1] == 0 || bytes[0] == 0)
                ? " (zero bytes between characters suggest UTF-16 without a byte-order mark: save the file as UTF-8)"
                : "";
            throw new RecurFormatException(source, $"line {line} (byte {offset})",
                $"expected {name} text, found the invalid byte sequence {Convert.ToHexString(e.BytesUnknown ?? [])}{hint}");
        }
    }

    private static readonly UTF32Encoding StrictUtf32Le = new(bigEndian: false, byteOrderMark: false, throwOnInvalidCharacters: true);
    private static readonly UTF32Encoding StrictUtf32Be = new(bigEndian: true, byteOrderMark: false, throwOnInvalidCharacters: true);
    private static readonly UnicodeEncoding StrictUtf16Le = new(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true);
    private static readonly UnicodeEncoding StrictUtf16Be = new(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: true);

    /// <summary>The encoding a byte-order mark names (UTF-32 is checked first: its LE mark starts like UTF-16's).</summary>
    private static (Encoding Encoding, string Name, int Bom, int Unit) Detect(byte[] b) => b switch
    {
        [0xFF, 0xFE, 0x00, 0x00, ..] => (StrictUtf32Le, "UTF-32LE", 4, 4),
        [0x00, 0x00, 0xFE, 0xFF, ..] => (StrictUtf32Be, "UTF-32BE", 4, 4),
        [0xFF, 0xFE, ..] => (StrictUtf16Le, "UTF-16LE", 2, 2),
        [0xFE, 0xFF, ..] => (StrictUtf16Be, "UTF-16BE", 2, 2),
        [0xEF, 0xBB, 0xBF, ..] => (StrictUtf8, "UTF-8", 3, 1),
        _ => (StrictUtf8, "UTF-8", 0, 1),
    };

    private static bool IsNewline(byte[] b, long i, int unit, string name) => unit switch
    {
        1 => b[i] == (byte)'\n',
        2 => name.EndsWith("LE", StringComparison.Ordinal) ? b[i] == '\n' && b[i + 1] == 0 : b[i] == 0 && b[i + 1] == '\n',
        _ => name.EndsWith("LE", StringComparison.Ordinal) ? b[i] == '\n' && b[i + 1] == 0 && b[i + 2] == 0 && b[i + 3] == 0
                                                          : b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 0 && b[i + 3] == '\n',
    };

    /// <summary>The file's bytes, decompressed when the name ends in <c>.gz</c>, at most <see cref="ReadLimits.MaxFileBytes"/>.</summary>
    public static byte[] ReadAllBytes(string path, ReadLimits? limits = null)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            if (Directory.Exists(path)) throw new RecurFormatException(path, "path", "expected a file, found a folder");
            throw new FileNotFoundException($"{path}: file not found", path);
        }
        using var file = File.OpenRead(path);
        return ReadAllBytes(file, path, path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase), limits);
    }

    /// <summary>
    /// A stream's bytes, gzip-decompressed when <paramref name="gzip"/> is set, at most
    /// <see cref="ReadLimits.MaxFileBytes"/> (after decompression); <paramref name="source"/> names the data in errors.
    /// A gzip stream must be complete: a truncated or corrupt one (its CRC-32 and length trailer missing or not
    /// matching the data) is a <see cref="RecurFormatException"/>, never a silently shorter file.
    /// </summary>
    public static byte[] ReadAllBytes(Stream stream, string source, bool gzip, ReadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        limits ??= ReadLimits.Default;
        if (!gzip) return Copy(stream, source, limits);

        // The compressed bytes first, so the trailer can be checked: .NET's GZipStream ends quietly at a cut.
        byte[] compressed = Copy(stream, source, limits);
        byte[] data;
        using (var unzip = new GZipStream(new MemoryStream(compressed, writable: false), CompressionMode.Decompress))
        {
            try
            {
                data = Copy(unzip, source, limits);
            }
            catch (InvalidDataException e)
            {
                throw new RecurFormatException(source, "gzip stream", $"expected valid gzip data, found: {e.Message}");
            }
        }
        CheckGzipTrailer(compressed, data, source);
        return data;
    }

    /// <summary>
    /// A gzip member ends in the CRC-32 and the length (mod 2^32) of its uncompressed data. The file's last 8 bytes
    /// must be that trailer for the whole output (one member) or for its tail (the last of several members).
    /// </summary>
    private static void CheckGzipTrailer(byte[] compressed, byte[] data, string source)
    {
        const int MinimumMember = 18; // 10-byte header, an empty deflate block, 8-byte trailer
        if (compressed.Length < MinimumMember)
            throw new RecurFormatException(source, "gzip stream", $"expected a complete gzip stream (at least {MinimumMember} bytes), found {compressed.Length} bytes: the file is truncated");
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(compressed.AsSpan(compressed.Length - 8));
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(compressed.AsSpan(compressed.Length - 4));
        if ((uint)data.Length == size && Crc32.HashToUInt32(data) == crc) return;
        if (size > 0 && size < (uint)data.Length && Crc32.HashToUInt32(data.AsSpan(data.Length - (int)size)) == crc) return;
        throw new RecurFormatException(source, "gzip stream",
            $"expected a complete gzip stream ending in the CRC-32 and length of its data, found a truncated or corrupt one ({data.Length} bytes decompressed before it ended; `gzip -t` reports the same)");
    }

    private static byte[] Copy(Stream s, string source, ReadLimits limits)
    {
        using var ms = new MemoryStream();
        var buffer = new byte[1 << 16];
        int n;
        while ((n = s.Read(buffer)) > 0)
        {
            if (ms.Length + n > limits.MaxFileBytes)
                throw new RecurFormatException(source, "file size", $"expected at most {limits.MaxFileBytes} bytes (ReadLimits.MaxFileBytes), found more");
            ms.Write(buffer, 0, n);
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Lines of a text, split on LF, CRLF or CR only (not on U+0085 NEL or other Unicode breaks, which can occur
    /// inside sentences), with a final empty line dropped.
    /// </summary>
    public static List<string> Lines(string text)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c != '\n' && c != '\r') continue;
            lines.Add(text[start..i]);
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < text.Length) lines.Add(text[start..]);
        return lines;
    }
}
