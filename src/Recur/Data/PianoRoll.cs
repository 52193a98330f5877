using System.Text.Json;
using Recur.Tensors;

namespace Recur.Data;

/// <summary>A piece: one set of active MIDI pitches per time step.</summary>
public sealed record Piece(int[][] Steps);

/// <summary>
/// Piano rolls: the JSON format (a list of pieces, each a list of steps, each a list of MIDI pitch numbers 0-127),
/// a generated dataset of scales, arpeggios and chords in every key, and multi-hot encoding over a pitch range.
/// </summary>
public static class PianoRoll
{
    /// <summary>Reads pieces from JSON, validating structure and pitch range; errors name the piece and step.</summary>
    public static List<Piece> ReadJson(string path, ReadLimits? limits = null) =>
        ParseJson(DataFiles.ReadAllText(path, limits), path, limits);

    /// <summary>Parses piano-roll JSON text (see <see cref="ReadJson"/>); <paramref name="path"/> names it in errors.</summary>
    public static List<Piece> ParseJson(string text, string path, ReadLimits? limits = null)
    {
        limits ??= ReadLimits.Default;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new RecurFormatException(path, $"line {e.LineNumber + 1}", $"expected JSON, found: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new RecurFormatException(path, "root", $"expected a list of pieces, found {doc.RootElement.ValueKind}");
            var pieces = new List<Piece>();
            int p = 0;
            foreach (var piece in doc.RootElement.EnumerateArray())
            {
                if (piece.ValueKind != JsonValueKind.Array)
                    throw new RecurFormatException(path, $"piece {p}", $"expected a list of steps, found {piece.ValueKind}");
                var steps = new List<int[]>();
                int s = 0;
                foreach (var step in piece.EnumerateArray())
                {
                    if (step.ValueKind != JsonValueKind.Array)
                        throw new RecurFormatException(path, $"piece {p} step {s}", $"expected a list of MIDI pitches, found {step.ValueKind}");
                    var pitches = new List<int>();
                    foreach (var x in step.EnumerateArray())
                    {
                        if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt32(out int v) || v < 0 || v > 127)
                            throw new RecurFormatException(path, $"piece {p} step {s}", $"expected MIDI pitches 0-127, found {x.GetRawText()}");
                        pitches.Add(v);
                    }
                    steps.Add([.. pitches.Distinct().Order()]);
                    if (++s > limits.MaxSequenceLength)
                        throw new RecurFormatException(path, $"piece {p}", $"expected at most {limits.MaxSequenceLength} steps (ReadLimits.MaxSequenceLength), found more");
                }
                if (steps.Count == 0) throw new RecurFormatException(path, $"piece {p}", "expected at least one step, found an empty piece");
                pieces.Add(new Piece([.. steps]));
                p++;
            }
            if (pieces.Count == 0) throw new RecurFormatException(path, "root", "expected at least one piece, found none");
            return pieces;
        }
    }

    /// <summary>Writes pieces as JSON (atomically).</summary>
    public static void WriteJson(string path, IEnumerable<Piece> pieces) =>
        AtomicFile.Write(path, fs =>
        {
            using var w = new Utf8JsonWriter(fs);
            w.WriteStartArray();
            foreach (var p in pieces)
            {
                w.WriteStartArray();
                foreach (var s in p.Steps)
                {
                    w.WriteStartArray();
                    foreach (int v in s) w.WriteNumberValue(v);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
            }
            w.WriteEndArray();
        });

    private static readonly int[] Major = [0, 2, 4, 5, 7, 9, 11, 12];
    private static readonly int[] Minor = [0, 2, 3, 5, 7, 8, 10, 12];

    /// <summary>
    /// Generated pieces in all 12 keys, major and minor (condition = key * 2 + mode): an ascending and descending
    /// scale, an arpeggio of the tonic triad, and block chords I-IV-V-I, 32 steps each, starting around middle C.
    /// </summary>
    public static List<(Piece Piece, int Condition)> ScalesAndArpeggios()
    {
        var result = new List<(Piece, int)>();
        for (int key = 0; key < 12; key++)
            for (int mode = 0; mode < 2; mode++)
            {
                var scale = mode == 0 ? Major : Minor;
                int root = 60 + key - (key > 6 ? 12 : 0);
                var steps = new List<int[]>();
                foreach (int d in scale) steps.Add([root + d]);
                foreach (int d in scale.Reverse()) steps.Add([root + d]);
                int[] triad = [scale[0], scale[2], scale[4], scale[7]];
                foreach (int d in triad.Concat(triad.Reverse())) steps.Add([root + d]);
                int[][] chords = [[0, 2, 4], [3, 5, 7], [4, 6, 8], [0, 2, 4]];
                foreach (var chord in chords)
                    for (int rep = 0; rep < 2; rep++)
                        steps.Add(chord.Select(i => root + (i < 8 ? scale[i] : scale[i - 7] + 12)).ToArray());
                result.Add((new Piece([.. steps]), key * 2 + mode));
            }
        return result;
    }

    /// <summary>Multi-hot frames (steps, pitches) over [lowest, lowest + range). Pitches outside are an error.</summary>
    public static float[] Encode(Piece piece, int lowest, int range)
    {
        var frames = new float[piece.Steps.Length * range];
        for (int t = 0; t < piece.Steps.Length; t++)
            foreach (int p in piece.Steps[t])
            {
                if (p < lowest || p >= lowest + range)
                    throw new ArgumentOutOfRangeException(nameof(piece), p, $"step {t}: pitch {p} is outside the model's range [{lowest}, {lowest + range})");
                frames[t * range + p - lowest] = 1f;
            }
        return frames;
    }

    /// <summary>The active pitches of multi-hot frames (value &gt; 0.5).</summary>
    public static Piece Decode(ReadOnlySpan<float> frames, int lowest, int range)
    {
        int steps = frames.Length / range;
        var result = new int[steps][];
        for (int t = 0; t < steps; t++)
        {
            var active = new List<int>();
            for (int p = 0; p < range; p++) if (frames[t * range + p] > 0.5f) active.Add(lowest + p);
            result[t] = [.. active];
        }
        return new Piece(result);
    }
}
