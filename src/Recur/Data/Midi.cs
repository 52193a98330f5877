
namespace Recur.Data;

/// <summary>
/// Standard MIDI files (format 0, one track) from piano rolls: each step lasts <c>ticksPerStep</c> ticks; a pitch
/// sounds from the step where it becomes active until the step where it stops.
/// </summary>
public static class Midi
{
    /// <summary>Writes <paramref name="piece"/> as a format-0 standard MIDI file (atomically).</summary>
    /// <param name="path">Output file.</param>
    /// <param name="piece">The piano roll.</param>
    /// <param name="ticksPerQuarter">Time division (ticks per quarter note).</param>
    /// <param name="ticksPerStep">Duration of one step (240 = an eighth note at 480 ticks per quarter).</param>
    /// <param name="tempoMicrosecondsPerQuarter">Tempo (500000 = 120 beats per minute).</param>
    /// <param name="velocity">Note-on velocity 1-127.</param>
    public static void Write(string path, Piece piece, int ticksPerQuarter = 480, int ticksPerStep = 240, int tempoMicrosecondsPerQuarter = 500_000, int velocity = 80)
    {
        ArgumentNullException.ThrowIfNull(piece);
        if (ticksPerQuarter is < 1 or > 0x7FFF) throw new ArgumentOutOfRangeException(nameof(ticksPerQuarter), ticksPerQuarter, "must be in [1, 32767]");
        if (ticksPerStep < 1) throw new ArgumentOutOfRangeException(nameof(ticksPerStep), ticksPerStep, "must be >= 1");
        if (velocity is < 1 or > 127) throw new ArgumentOutOfRangeException(nameof(velocity), velocity, "must be in [1, 127]");
        foreach (var step in piece.Steps)
            foreach (int p in step)
                if (p is < 0 or > 127) throw new ArgumentOutOfRangeException(nameof(piece), p, "MIDI pitches are 0-127");

        var track = new List<byte>();
        void Delta(long ticks)
        {
            // Variable-length quantity, most significant group first.
            var groups = new Stack<byte>();
            groups.Push((byte)(ticks & 0x7F));
            while ((ticks >>= 7) > 0) groups.Push((byte)(0x80 | (ticks & 0x7F)));
            track.AddRange(groups);
        }
        Delta(0);
        track.AddRange([0xFF, 0x51, 0x03, (byte)(tempoMicrosecondsPerQuarter >> 16), (byte)(tempoMicrosecondsPerQuarter >> 8), (byte)tempoMicrosecondsPerQuarter]);
        long pending = 0;
        var sounding = new SortedSet<int>();
        for (int t = 0; t <= piece.Steps.Length; t++)
        {
            var now = t < piece.Steps.Length ? new SortedSet<int>(piece.Steps[t]) : [];
            foreach (int p in sounding.Where(p => !now.Contains(p)).ToList())
            {
                Delta(pending);
                pending = 0;
                track.AddRange([0x80, (byte)p, 0]);
                sounding.Remove(p);
            }
            foreach (int p in now.Where(p => !sounding.Contains(p)))
            {
                Delta(pending);
                pending = 0;
                track.AddRange([0x90, (byte)p, (byte)velocity]);
                sounding.Add(p);
            }
            pending += ticksPerStep;
        }
        Delta(0);
        track.AddRange([0xFF, 0x2F, 0x00]);

        AtomicFile.Write(path, fs =>
        {
            void Be32(int v) { fs.WriteByte((byte)(v >> 24)); fs.WriteByte((byte)(v >> 16)); fs.WriteByte((byte)(v >> 8)); fs.WriteByte((byte)v); }
            void Be16(int v) { fs.WriteByte((byte)(v >> 8)); fs.WriteByte((byte)v); }
            fs.Write("MThd"u8);
            Be32(6);
            Be16(0);
            Be16(1);
            Be16(ticksPerQuarter);
            fs.Write("MTrk"u8);
            Be32(track.Count);
            fs.Write(track.ToArray());
        });
    }
}
