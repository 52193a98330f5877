using System.IO.Compression;
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

/// <summary>Reading text data files: transparent gzip, strict UTF-8 with a clear error, size limits.</summary>
public static class DataFiles
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The whole file as text. <c>.gz</c> files are decompressed. Invalid UTF-8 is an error naming the byte offset.</summary>
    public static string ReadAllText(string path, ReadLimits? limits = null) => DecodeText(ReadAllBytes(path, limits), path);

    /// <summary>
    /// Bytes as strict UTF-8 text (a leading byte-order mark is dropped); invalid UTF-8 is a
    /// <see cref="RecurFormatException"/> naming <paramref name="source"/>, the line and the byte offset.
    /// </summary>
    public static string DecodeText(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        int start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
        try
        {
            return StrictUtf8.GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException e)
        {
            long offset = start + (e.Index >= 0 ? e.Index : 0);
            int line = 1;
            for (long i = 0; i < Math.Min(offset, bytes.Length); i++) if (bytes[i] == (byte)'\n') line++;
            throw new RecurFormatException(source, $"line {line} (byte {offset})",
                $"expected UTF-8 text, found the invalid byte sequence {Convert.ToHexString(e.BytesUnknown ?? [])}");
        }
    }

    /// <summary>The file's bytes, decompressed when the name ends in <c>.gz</c>, at most <see cref="ReadLimits.MaxFileBytes"/>.</summary>
    public static byte[] ReadAllBytes(string path, ReadLimits? limits = null)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found", path);
        using var file = File.OpenRead(path);
        return ReadAllBytes(file, path, path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase), limits);
    }

    /// <summary>
    /// A stream's bytes, gzip-decompressed when <paramref name="gzip"/> is set, at most
    /// <see cref="ReadLimits.MaxFileBytes"/> (after decompression); <paramref name="source"/> names the data in errors.
    /// </summary>
    public static byte[] ReadAllBytes(Stream stream, string source, bool gzip, ReadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        limits ??= ReadLimits.Default;
        Stream s = gzip ? new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true) : stream;
        using var ms = new MemoryStream();
        var buffer = new byte[1 << 16];
        try
        {
            int n;
            while ((n = s.Read(buffer)) > 0)
            {
                if (ms.Length + n > limits.MaxFileBytes)
                    throw new RecurFormatException(source, "file size", $"expected at most {limits.MaxFileBytes} bytes (ReadLimits.MaxFileBytes), found more");
                ms.Write(buffer, 0, n);
            }
        }
        catch (InvalidDataException e)
        {
            throw new RecurFormatException(source, $"gzip stream (byte {ms.Length} of output)", $"expected valid gzip data, found: {e.Message}");
        }
        finally
        {
            if (s != stream) s.Dispose();
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
