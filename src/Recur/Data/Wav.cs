using System.Buffers.Binary;

namespace Recur.Data;

/// <summary>Mono PCM audio: samples in [-1, 1) and the sample rate.</summary>
public sealed record Audio(float[] Samples, int SampleRate);

/// <summary>
/// WAV reading: RIFF/WAVE files with PCM (8-bit unsigned or 16-bit signed) mono data, gzip transparently. Anything
/// else (stereo, float or compressed formats, truncated data) is a <see cref="RecurFormatException"/> naming the file
/// and the field.
/// </summary>
public static class Wav
{
    /// <summary>Reads a WAV file (<c>.wav</c> or <c>.wav.gz</c>).</summary>
    public static Audio Read(string path, ReadLimits? limits = null) => Parse(DataFiles.ReadAllBytes(path, limits), path);

    /// <summary>Parses WAV bytes; <paramref name="source"/> names them in errors.</summary>
    public static Audio Parse(byte[] b, string source)
    {
        if (b.Length < 12 || !b.AsSpan(0, 4).SequenceEqual("RIFF"u8) || !b.AsSpan(8, 4).SequenceEqual("WAVE"u8))
            throw new RecurFormatException(source, "header (bytes 0-11)", $"expected 'RIFF....WAVE', found {(b.Length < 12 ? $"only {b.Length} bytes" : $"'{Ascii(b, 0, 4)}....{Ascii(b, 8, 4)}'")}");
        int pos = 12;
        int? channels = null, rate = null, bits = null, format = null;
        while (pos <= b.Length - 8)
        {
            string id = Ascii(b, pos, 4);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(pos + 4));
            int body = pos + 8;
            if (id == "fmt ")
            {
                if (size < 16 || body + 16 > b.Length)
                    throw new RecurFormatException(source, $"'fmt ' chunk (byte {pos})", $"expected at least 16 bytes, found {Math.Min(size, b.Length - body)}");
                format = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body));
                channels = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 2));
                rate = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(body + 4));
                bits = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 14));
                if (format == 0xFFFE && size >= 40 && body + 26 <= b.Length)
                    format = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 24)); // WAVE_FORMAT_EXTENSIBLE: the subformat's tag
            }
            else if (id == "data")
            {
                if (format is null) throw new RecurFormatException(source, $"'data' chunk (byte {pos})", "expected a 'fmt ' chunk before the data, found none");
                if (format != 1) throw new RecurFormatException(source, "'fmt ' field 'format'", $"expected PCM (1), found format {format}{(format == 3 ? " (IEEE float)" : "")}");
                if (channels != 1) throw new RecurFormatException(source, "'fmt ' field 'channels'", $"expected mono (1 channel), found {channels}");
                if (bits is not (8 or 16)) throw new RecurFormatException(source, "'fmt ' field 'bits per sample'", $"expected 8 or 16, found {bits}");
                if (rate is < 1 or > 384_000) throw new RecurFormatException(source, "'fmt ' field 'sample rate'", $"expected 1-384000 Hz, found {rate}");
                long available = b.Length - body;
                if (size > available)
                    throw new RecurFormatException(source, $"'data' chunk (byte {pos})", $"expected {size} bytes of samples, found {available} (truncated file)");
                int bytesPerSample = bits!.Value / 8;
                if (size % bytesPerSample != 0)
                    throw new RecurFormatException(source, $"'data' chunk (byte {pos})", $"expected a whole number of {bits}-bit samples, found {size} bytes");
                var samples = new float[size / bytesPerSample];
                var data = b.AsSpan(body, (int)size);
                if (bits == 8) for (int i = 0; i < samples.Length; i++) samples[i] = (data[i] - 128) / 128f;
                else for (int i = 0; i < samples.Length; i++) samples[i] = BinaryPrimitives.ReadInt16LittleEndian(data[(2 * i)..]) / 32768f;
                return new Audio(samples, rate!.Value);
            }
            long next = body + size + (size & 1); // chunks are word-aligned
            if (next > b.Length) break; // a chunk that runs past the end leaves no room for another (and pos cannot overflow)
            pos = (int)next;
        }
        throw new RecurFormatException(source, "chunks", format is null ? "expected 'fmt ' and 'data' chunks, found neither (truncated file?)" : "expected a 'data' chunk, found none (truncated file?)");
    }

    /// <summary>Writes 16-bit PCM mono WAV bytes (for tests and tools).</summary>
    public static byte[] Write16(ReadOnlySpan<float> samples, int sampleRate)
    {
        var b = new byte[44 + 2 * samples.Length];
        "RIFF"u8.CopyTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)(36 + 2 * samples.Length));
        "WAVEfmt "u8.CopyTo(b.AsSpan(8));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(22), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), (uint)sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(28), (uint)(2 * sampleRate));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(32), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(34), 16);
        "data"u8.CopyTo(b.AsSpan(36));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(40), (uint)(2 * samples.Length));
        for (int i = 0; i < samples.Length; i++)
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(44 + 2 * i), (short)Math.Clamp(MathF.Round(samples[i] * 32768f), -32768, 32767));
        return b;
    }

    private static string Ascii(byte[] b, int start, int n)
    {
        var chars = new char[n];
        for (int i = 0; i < n && start + i < b.Length; i++) chars[i] = b[start + i] is >= 32 and < 127 ? (char)b[start + i] : '?';
        return new string(chars);
    }
}
