using System.Buffers.Binary;
using System.Globalization;

namespace Recur.Data;

/// <summary>
/// Raw audio in chunks: 16-bit signed little-endian mono PCM (no header) read from a stream as it arrives, or the
/// samples of a WAV file cut into chunks. A raw stream that ends inside a sample (an odd number of bytes) is a
/// <see cref="RecurFormatException"/> naming the stream and the byte.
/// </summary>
public static class PcmStream
{
    /// <summary>
    /// Chunks of at most <paramref name="chunkSamples"/> samples from raw 16-bit PCM in <paramref name="stream"/>; a
    /// chunk is returned as soon as its bytes arrive (a short read gives a short chunk). <paramref name="source"/> names
    /// the stream in errors.
    /// </summary>
    public static IEnumerable<float[]> ReadRaw16(Stream stream, int chunkSamples, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSamples, 1);
        var bytes = new byte[2 * chunkSamples];
        int carried = 0; // 0 or 1: a byte of a sample whose second byte has not arrived
        long total = 0;
        while (true)
        {
            int n = stream.Read(bytes, carried, bytes.Length - carried);
            if (n == 0)
            {
                if (carried != 0)
                    throw new RecurFormatException(source, $"byte {(total - 1).ToString(CultureInfo.InvariantCulture)}",
                        $"expected whole 16-bit samples (an even number of bytes), found a stream that ends mid-sample after {total.ToString(CultureInfo.InvariantCulture)} bytes");
                yield break;
            }
            total += n;
            int have = carried + n, whole = have / 2;
            if (whole > 0)
            {
                var chunk = new float[whole];
                for (int i = 0; i < whole; i++) chunk[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(2 * i)) / 32768f;
                yield return chunk;
            }
            carried = have - 2 * whole;
            if (carried != 0) bytes[0] = bytes[2 * whole];
        }
    }

    /// <summary>The samples of <paramref name="samples"/> in consecutive chunks of <paramref name="chunkSamples"/> (the last may be shorter).</summary>
    public static IEnumerable<float[]> Chunks(float[] samples, int chunkSamples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSamples, 1);
        for (int i = 0; i < samples.Length; i += chunkSamples) yield return samples[i..Math.Min(samples.Length, i + chunkSamples)];
    }
}
