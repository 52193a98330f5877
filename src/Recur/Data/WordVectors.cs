using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;

namespace Recur.Data;

/// <summary>The text layout of a word-vector file.</summary>
public enum WordVectorFormat
{
    /// <summary>GloVe <c>.txt</c>: one <c>word v1 ... vd</c> per line, no header.</summary>
    Glove,
    /// <summary>word2vec / fastText <c>.vec</c>: a header line <c>count dim</c>, then the GloVe layout.</summary>
    Word2Vec,
}

/// <summary>
/// Pretrained word vectors read from the common text formats (GloVe <c>.txt</c>; word2vec and fastText <c>.vec</c>,
/// whose first line is <c>count dim</c>), kept for one vocabulary only: row i of <see cref="Values"/> is the vector
/// of token i. A token takes the vector of its exact form; when the file has no line for the exact form, it takes
/// the vector of the first line whose word, lower-cased (invariant culture), equals the token lower-cased (files list
/// frequent words first, so that is the most frequent casing). <c>&lt;pad&gt;</c> and <c>&lt;unk&gt;</c> (ids 0 and
/// 1) are never looked up. The file is streamed (a <c>.gz</c> one decompressed on the way, its CRC checked), so its
/// size is not bounded by memory.
/// </summary>
public sealed class WordVectors
{
    /// <summary>Longest line accepted, in bytes (a 300-dimensional line is about 3,000).</summary>
    public const int MaxLineChars = 1 << 20;

    /// <summary>Largest dimension accepted.</summary>
    public const int MaxDimension = 65536;

    private WordVectors(string source, WordVectorFormat format, int dimension, float[] values, bool[] found, bool[] byLowercase, int fileWords)
    {
        Source = source;
        Format = format;
        Dimension = dimension;
        Values = values;
        Found = found;
        MatchedByLowercase = byLowercase;
        FileWords = fileWords;
    }

    /// <summary>The file read.</summary>
    public string Source { get; }
    /// <summary>Its layout (by its first line: two integers make a word2vec header).</summary>
    public WordVectorFormat Format { get; }
    /// <summary>Values per vector.</summary>
    public int Dimension { get; }
    /// <summary>Vectors for the vocabulary, (V, <see cref="Dimension"/>) row-major; rows not found are zero.</summary>
    public float[] Values { get; }
    /// <summary>Per token id: whether the file has a vector for it.</summary>
    public bool[] Found { get; }
    /// <summary>Per token id: found only through the lower-case fallback.</summary>
    public bool[] MatchedByLowercase { get; }
    /// <summary>Vector lines in the file.</summary>
    public int FileWords { get; }

    /// <summary>Tokens of the vocabulary that are looked up (all but <c>&lt;pad&gt;</c> and <c>&lt;unk&gt;</c>).</summary>
    public int Words => Found.Length - 2;
    /// <summary>Of <see cref="Words"/>, those with a vector.</summary>
    public int WordsFound => Found.Skip(2).Count(f => f);
    /// <summary>Of <see cref="WordsFound"/>, those found through the lower-case fallback.</summary>
    public int WordsFoundByLowercase => MatchedByLowercase.Count(f => f);

    /// <summary>
    /// Token coverage of encoded sequences: how many of their tokens have a vector, out of all of them (padding never
    /// counts; <c>&lt;unk&gt;</c> counts, without a vector).
    /// </summary>
    public (long Covered, long Total) TokenCoverage(IEnumerable<int[]> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        long covered = 0, total = 0;
        foreach (var s in sequences)
            foreach (int id in s)
            {
                if (id == 0) continue;
                total++;
                if ((uint)id < (uint)Found.Length && Found[id]) covered++;
            }
        return (covered, total);
    }

    /// <summary>Reads the vectors of <paramref name="vocabulary"/>'s tokens from a GloVe or word2vec/fastText text file (<c>.gz</c> read transparently).</summary>
    /// <exception cref="RecurFormatException">A malformed file: the message names the file, the line and field, and what was expected and found.</exception>
    public static WordVectors Read(string path, Vocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (Directory.Exists(path)) throw new RecurFormatException(path, "path", "expected a word-vector file, found a folder");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        using var file = File.OpenRead(path);
        if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) return Read(file, path, vocabulary);
        using var checksum = new ChecksumStream(new GZipStream(file, CompressionMode.Decompress, leaveOpen: true));
        // .NET's GZipStream ends quietly at a cut: the trailer (CRC-32 and length of the data) must match what was
        // read. A cut usually ends in half a line, so a format error in a damaged stream is reported as the damage.
        WordVectors result;
        try
        {
            result = Read(checksum, path, vocabulary);
        }
        catch (RecurFormatException) when (!Intact(file, checksum))
        {
            throw Truncated(path, checksum);
        }
        catch (InvalidDataException e)
        {
            throw new RecurFormatException(path, "gzip stream", $"expected valid gzip data, found: {e.Message}");
        }
        if (!Intact(file, checksum)) throw Truncated(path, checksum);
        return result;
    }

    /// <summary>Reads the rest of the gzip stream and compares what it gave with the file's trailer.</summary>
    private static bool Intact(FileStream file, ChecksumStream data)
    {
        try
        {
            data.ReadToEnd();
        }
        catch (InvalidDataException)
        {
            return false;
        }
        if (file.Length < 18) return false;
        Span<byte> trailer = stackalloc byte[8];
        file.Seek(-8, SeekOrigin.End);
        file.ReadExactly(trailer);
        return BinaryPrimitives.ReadUInt32LittleEndian(trailer) == data.Crc && BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]) == (uint)data.Length;
    }

    private static RecurFormatException Truncated(string path, ChecksumStream data) => new(path, "gzip stream",
        $"expected a complete gzip stream ending in the CRC-32 and length of its data, found a truncated or corrupt one ({data.Length} bytes decompressed; `gzip -t` reports the same; a file of several gzip members: decompress it first)");

    /// <summary>Reads vectors from an uncompressed stream of text; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="RecurFormatException">A malformed file (see <see cref="Read(string, Vocabulary)"/>).</exception>
    public static WordVectors Read(Stream stream, string source, Vocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(vocabulary);
        var exact = new Dictionary<string, int>(StringComparer.Ordinal);
        var lower = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int id = 2; id < vocabulary.Count; id++)
        {
            string t = vocabulary.Token(id);
            exact[t] = id;
            string l = t.ToLowerInvariant();
            if (!lower.TryGetValue(l, out var ids)) lower[l] = ids = [];
            ids.Add(id);
        }
        int v = vocabulary.Count;
        var found = new bool[v];
        var exactFound = new bool[v];
        var byLower = new bool[v];
        float[]? values = null;
        int dim = 0, lineNo = 0, rows = 0;
        long? declared = null;
        var format = WordVectorFormat.Glove;
        var fields = new List<Range>();
        var vector = Array.Empty<float>();
        var reader = new LineReader(stream, source);
        while (true)
        {
            string? line = reader.Next();
            if (line is null) break;
            lineNo++;
            Fields(line, fields);
            if (fields.Count == 0) throw new RecurFormatException(source, $"line {lineNo}", "expected a word and its vector, found an empty line");
            if (lineNo == 1 && fields.Count == 2 && long.TryParse(line.AsSpan(fields[0]), NumberStyles.None, CultureInfo.InvariantCulture, out long count)
                && int.TryParse(line.AsSpan(fields[1]), NumberStyles.None, CultureInfo.InvariantCulture, out int d))
            {
                if (d < 1 || d > MaxDimension) throw new RecurFormatException(source, "line 1 (header 'count dim')", $"expected a dimension in [1, {MaxDimension}], found {d}");
                format = WordVectorFormat.Word2Vec;
                declared = count;
                dim = d;
                continue;
            }
            if (dim == 0)
            {
                dim = fields.Count - 1;
                if (dim < 1) throw new RecurFormatException(source, $"line {lineNo}", $"expected a word followed by its vector (GloVe: 'word v1 ... vd'), found one field '{Clip(line)}'");
                if (dim > MaxDimension) throw new RecurFormatException(source, $"line {lineNo}", $"expected at most {MaxDimension} values per vector, found {dim}");
            }
            if (values is null) { values = new float[(long)v * dim <= Array.MaxLength ? v * dim : throw new RecurFormatException(source, $"line {lineNo}", $"expected a table of {v} x {dim} values that fits in one array, found too many")]; vector = new float[dim]; }
            // The vector is the last `dim` fields; what is before them is the word (a few GloVe words contain spaces).
            int wordFields = fields.Count - dim;
            if (wordFields < 1)
                throw new RecurFormatException(source, $"line {lineNo}", $"expected a word and {dim} numbers (the dimension of {(format == WordVectorFormat.Word2Vec ? "the header" : "line 1")}), found {fields.Count - 1} number(s) after '{Clip(line[fields[0]])}'");
            if (wordFields > 1 && float.TryParse(line.AsSpan(fields[wordFields - 1]), NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                throw new RecurFormatException(source, $"line {lineNo}", $"expected a word and {dim} numbers (the dimension of {(format == WordVectorFormat.Word2Vec ? "the header" : "line 1")}), found {fields.Count - 1} fields after '{Clip(line[fields[0]])}'");
            string word = wordFields == 1 ? line[fields[0]] : line[fields[0].Start..fields[wordFields - 1].End];
            for (int j = 0; j < dim; j++)
            {
                var f = line.AsSpan(fields[wordFields + j]);
                if (!float.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out float x) || !float.IsFinite(x))
                    throw new RecurFormatException(source, $"line {lineNo} field {wordFields + j + 1} (value {j + 1} of '{Clip(word)}')", $"expected a finite number, found '{Clip(f.ToString())}'");
                vector[j] = x;
            }
            rows++;
            if (exact.TryGetValue(word, out int e) && !exactFound[e])
            {
                vector.CopyTo(values.AsSpan(e * dim, dim));
                exactFound[e] = found[e] = true;
                byLower[e] = false;
            }
            if (lower.TryGetValue(word.ToLowerInvariant(), out var candidates))
                foreach (int id in candidates)
                    if (!found[id])
                    {
                        vector.CopyTo(values.AsSpan(id * dim, dim));
                        found[id] = byLower[id] = true;
                    }
        }
        if (rows == 0) throw new RecurFormatException(source, $"line {lineNo + 1}", "expected at least one word vector, found none");
        if (declared is { } n && n != rows)
            throw new RecurFormatException(source, "line 1 (header 'count dim')", $"expected {n} vectors as the header says, found {rows} (a truncated file?)");
        return new WordVectors(source, format, dim, values!, found, byLower, rows);
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..37] + "...";

    /// <summary>The ranges of the fields of a line, split on spaces and tabs (a trailing space, as fastText writes, makes no field).</summary>
    private static void Fields(string line, List<Range> fields)
    {
        fields.Clear();
        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && line[i] is ' ' or '\t') i++;
            if (i >= line.Length) break;
            int start = i;
            while (i < line.Length && line[i] is not (' ' or '\t')) i++;
            fields.Add(start..i);
        }
    }

    /// <summary>
    /// Lines of strict UTF-8 text (a leading byte-order mark is dropped), each at most <see cref="MaxLineChars"/>
    /// bytes; a final '\r' is dropped. Lines are cut at the byte 0x0A, which is never part of a multi-byte UTF-8
    /// character, and decoded one by one, so an invalid byte is reported on its own line.
    /// </summary>
    private sealed class LineReader(Stream stream, string source)
    {
        private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
        private readonly byte[] buffer = new byte[1 << 16];
        private int position, filled;
        private byte[] line = new byte[256];
        private int length, lineNo;
        private bool started;

        public string? Next()
        {
            length = 0;
            bool any = false;
            while (true)
            {
                if (position == filled)
                {
                    filled = stream.Read(buffer, 0, buffer.Length);
                    position = 0;
                    if (filled == 0) return any ? Finish() : null;
                    if (!started)
                    {
                        started = true;
                        if (filled >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF) position = 3;
                    }
                    continue;
                }
                any = true;
                int end = Array.IndexOf(buffer, (byte)'\n', position, filled - position);
                int stop = end < 0 ? filled : end;
                int n = stop - position;
                if (length + n > MaxLineChars)
                    throw new RecurFormatException(source, $"line {lineNo + 1}", $"expected a line of at most {MaxLineChars} bytes, found a longer one");
                if (length + n > line.Length) Array.Resize(ref line, Math.Max(line.Length * 2, length + n));
                Buffer.BlockCopy(buffer, position, line, length, n);
                length += n;
                position = stop;
                if (end >= 0) { position++; return Finish(); }
            }
        }

        private string Finish()
        {
            lineNo++;
            if (length > 0 && line[length - 1] == (byte)'\r') length--;
            try
            {
                return StrictUtf8.GetString(line, 0, length);
            }
            catch (DecoderFallbackException e)
            {
                throw new RecurFormatException(source, $"line {lineNo} (byte {Math.Max(e.Index, 0)} of the line)",
                    $"expected UTF-8 text (GloVe .txt or word2vec/fastText .vec), found the invalid byte sequence {Convert.ToHexString(e.BytesUnknown ?? [])} (a binary word2vec .bin file? convert it to the text format)");
            }
        }
    }

    /// <summary>A read-only pass-through that keeps the CRC-32 and length of what was read.</summary>
    private sealed class ChecksumStream(Stream inner) : Stream
    {
        private readonly Crc32 crc = new();
        public uint Crc => crc.GetCurrentHashAsUInt32();
        public override long Length => length;
        private long length;

        public void ReadToEnd()
        {
            var b = new byte[1 << 16];
            while (Read(b, 0, b.Length) > 0) { }
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            crc.Append(buffer.AsSpan(offset, n));
            length += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Position { get => length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
