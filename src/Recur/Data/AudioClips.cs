using System.Globalization;
using Recur.Tensors;

namespace Recur.Data;

/// <summary>One recording: its file, its feature frames (Steps x Width, row-major) and its label ("" when it has none).</summary>
/// <param name="File">The WAV file the frames come from.</param>
/// <param name="Frames">Feature frames, <c>Steps * Width</c> values, one frame after another.</param>
/// <param name="Steps">Number of frames.</param>
/// <param name="Label">The clip's label, or "" for an unlabelled clip.</param>
public sealed record AudioClip(string File, float[] Frames, int Steps, string Label);

/// <summary>
/// Loads labelled audio clips as MFCC (or log-mel) frames: a folder of WAV files (PCM 8/16-bit mono, optionally
/// .wav.gz) or a list file, one path per line (relative to the list's folder), optionally followed by a comma or TAB
/// and the label. Labels come from a label table (file name → label) when one is given, else from the list, else from
/// the file name up to its first '_' (FSDD's <c>7_jackson_32.wav</c> is a 7). Every clip must have the sample rate
/// of the first one read (or of <see cref="Features"/> when given), and at most <see cref="MaxFrames"/> frames.
/// </summary>
public sealed class AudioClips
{
    private readonly FeatureOptions options;

    /// <summary>A loader that builds its feature extractor at the sample rate of the first file it reads.</summary>
    public AudioClips(FeatureOptions options, ReadLimits? limits = null, int maxFrames = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrames, 1);
        this.options = options;
        Limits = limits ?? ReadLimits.Default;
        MaxFrames = maxFrames;
    }

    /// <summary>A loader with a fixed feature extractor (a trained model's sample rate and options).</summary>
    public AudioClips(AudioFeatures features, ReadLimits? limits = null, int maxFrames = int.MaxValue) : this(features.Options, limits, maxFrames) =>
        Features = features;

    /// <summary>The feature extractor: given, or built at the first file's sample rate (null before any file is read).</summary>
    public AudioFeatures? Features { get; private set; }

    /// <summary>Limits on the size of each file read.</summary>
    public ReadLimits Limits { get; }

    /// <summary>The longest clip accepted, in frames; a longer one is an error naming its file.</summary>
    public int MaxFrames { get; }

    /// <summary>
    /// The clips of <paramref name="source"/> (a folder or a list file), in folder order (ordinal by name) or list
    /// order. Labels: <paramref name="labels"/> (file name → label) when given, else the list's labels, else the file
    /// names; <paramref name="needLabels"/> false loads the clips unlabelled. <paramref name="maxClips"/> above 0 loads
    /// only that many, evenly spaced over the list (a folder named by label keeps every label), and reads no other file.
    /// </summary>
    public List<AudioClip> Load(string source, IReadOnlyDictionary<string, string>? labels = null, bool needLabels = true, int maxClips = 0)
    {
        var listed = List(source);
        if (maxClips > 0 && maxClips < listed.Count)
            listed = Enumerable.Range(0, maxClips).Select(i => listed[(int)((long)i * listed.Count / maxClips)]).ToList();
        var result = new List<AudioClip>(listed.Count);
        foreach (var (file, listLabel) in listed)
        {
            string label = !needLabels ? ""
                : labels is not null ? LabelFromTable(file, labels)
                : listLabel ?? LabelFromFileName(file);
            result.Add(LoadFile(file, label));
        }
        return result;
    }

    /// <summary>One clip: reads the WAV file and computes its frames.</summary>
    public AudioClip LoadFile(string file, string label = "")
    {
        var audio = Wav.Read(file, Limits);
        var used = Features ?? new AudioFeatures(audio.SampleRate, options);
        if (audio.SampleRate != used.SampleRate)
            throw new RecurFormatException(file, "'fmt ' field 'sample rate'", $"expected {used.SampleRate} Hz like the other audio, found {audio.SampleRate}");
        Features = used;
        var frames = used.Compute(audio.Samples);
        int steps = frames.Length / used.Width;
        if (steps > MaxFrames) throw new RecurFormatException(file, "length", $"expected at most {MaxFrames} frames, found {steps}");
        return new AudioClip(file, frames, steps, label);
    }

    /// <summary>
    /// The WAV files of a folder (.wav and .wav.gz, ordinal by name) or of a list file (one path per line, relative to
    /// the list's folder, optionally followed by a comma or TAB and the label), with their list labels (null: none).
    /// </summary>
    public static List<(string File, string? Label)> List(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (File.Exists(source))
        {
            string baseDir = Path.GetDirectoryName(Path.GetFullPath(source)) ?? ".";
            var list = new List<(string, string?)>();
            var lines = DataFiles.Lines(DataFiles.ReadAllText(source));
            for (int i = 0; i < lines.Count; i++)
            {
                if (lines[i].Trim().Length == 0) continue;
                var cells = lines[i].Split(lines[i].Contains('\t') ? '\t' : ',');
                string file = Path.Combine(baseDir, cells[0].Trim());
                if (!File.Exists(file)) throw new RecurFormatException(source, $"line {i + 1}", $"expected an existing WAV file, found '{cells[0].Trim()}' (paths are relative to the list's folder)");
                list.Add((file, cells.Length > 1 ? cells[1].Trim() : null));
            }
            if (list.Count == 0) throw new RecurFormatException(source, "file", "expected one WAV path per line, found none");
            return list;
        }
        if (!Directory.Exists(source)) throw new DirectoryNotFoundException($"{source}: expected a folder of .wav or .wav.gz files (or a list file), found neither");
        var files = Directory.GetFiles(source).Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".wav.gz", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).Select(f => (f, (string?)null)).ToList();
        if (files.Count == 0) throw new RecurFormatException(source, "folder", "expected .wav or .wav.gz files, found none");
        return files;
    }

    /// <summary>The label in a file's name: the part before its first '_' (<c>7_jackson_32.wav</c> → "7").</summary>
    public static string LabelFromFileName(string file)
    {
        string name = Path.GetFileName(file);
        int cut = name.IndexOf('_', StringComparison.Ordinal);
        if (cut <= 0) throw new RecurFormatException(file, "file name", $"expected '<label>_<anything>.wav' (or a table of file,label), found '{name}'");
        return name[..cut];
    }

    /// <summary>A two-column table (file name, label) without a header, comma- or TAB-separated by its extension.</summary>
    public static Dictionary<string, string> ReadLabelTable(string path, ReadLimits? limits = null)
    {
        var t = DelimitedTable.Read(path, DelimitedTable.DelimiterFor(path), hasHeader: false, limits);
        if (t.Columns < 2) throw new RecurFormatException(path, "line 1", $"expected 2 columns (file,label), found {t.Columns.ToString(CultureInfo.InvariantCulture)}");
        return t.Rows.ToDictionary(r => t.Cell(r, 0, "file name"), r => t.Cell(r, 1, "label"), StringComparer.Ordinal);
    }

    private static string LabelFromTable(string file, IReadOnlyDictionary<string, string> labels)
    {
        string name = Path.GetFileName(file);
        return labels.TryGetValue(name, out var l) ? l : throw new RecurFormatException(file, "labels", $"expected a row for '{name}' in the labels table, found none");
    }

    /// <summary>
    /// The clips as one zero-padded batch (B, T, W), T the longest clip, with each clip's length. With a
    /// <paramref name="standardizer"/>, every real frame is standardised by it (padding stays 0).
    /// </summary>
    public static (Tensor Features, int[] Lengths, int Steps) Pad(IReadOnlyList<AudioClip> clips, int width, Standardizer? standardizer = null)
    {
        ArgumentNullException.ThrowIfNull(clips);
        if (clips.Count == 0) throw new ArgumentException("expected at least one clip, found none", nameof(clips));
        if (standardizer is not null && standardizer.Columns != width)
            throw new ArgumentException($"the standardizer must have one column per feature (expected {width}, got {standardizer.Columns})", nameof(standardizer));
        int steps = clips.Max(c => c.Steps);
        var x = new Tensor(clips.Count, steps, width);
        var span = x.Span;
        for (int i = 0; i < clips.Count; i++)
        {
            var frames = clips[i].Frames;
            if (frames.Length != clips[i].Steps * width)
                throw new ArgumentException($"clip {i} ({clips[i].File}) has {frames.Length} values, expected {clips[i].Steps} frames of {width}", nameof(clips));
            for (int t = 0; t < clips[i].Steps; t++)
            {
                var src = frames.AsSpan(t * width, width);
                var dst = span.Slice((i * steps + t) * width, width);
                if (standardizer is null) src.CopyTo(dst);
                else standardizer.Apply(src, dst);
            }
        }
        return (x, clips.Select(c => c.Steps).ToArray(), steps);
    }
}
