using System.Globalization;
using System.Text;
using Recur.Tensors;

namespace Recur.Data;

/// <summary>One FSDD recording: <c>&lt;digit&gt;_&lt;speaker&gt;_&lt;take&gt;.wav[.gz]</c>.</summary>
/// <param name="File">The file.</param>
/// <param name="Digit">The digit spoken, 0-9.</param>
/// <param name="Speaker">The speaker's name.</param>
/// <param name="Take">The take, 0-49; takes 0-4 are the official test set.</param>
public sealed record DigitClip(string File, int Digit, string Speaker, int Take)
{
    /// <summary>True for the official test clips (takes 0-4, per the FSDD README).</summary>
    public bool IsOfficialTest => Take <= 4;
}

/// <summary>Settings of <see cref="ConnectedDigits"/>.</summary>
public sealed record ConnectedDigitOptions
{
    /// <summary>Seed of every random choice (clips, digits, gaps, levels, noise).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Training utterances.</summary>
    public int TrainUtterances { get; init; } = 3000;
    /// <summary>Test utterances.</summary>
    public int TestUtterances { get; init; } = 600;
    /// <summary>Fewest digits in an utterance.</summary>
    public int MinDigits { get; init; } = 3;
    /// <summary>Most digits in an utterance.</summary>
    public int MaxDigits { get; init; } = 7;
    /// <summary>Shortest pause between digits, seconds.</summary>
    public double MinGapSeconds { get; init; } = 0.05;
    /// <summary>Longest pause between digits, seconds (also the longest lead-in and tail).</summary>
    public double MaxGapSeconds { get; init; } = 0.4;
    /// <summary>Each clip's level is changed by a gain drawn uniformly in ±this many dB.</summary>
    public double LevelDb { get; init; } = 6;
    /// <summary>Background noise (Gaussian, standard deviation re full scale) in dB, over the whole utterance; null: none.</summary>
    public double? NoiseDb { get; init; } = -60;
    /// <summary>Null: the official split (test utterances from takes 0-4 only, training from takes 5-49). A name: that speaker's clips are the test set and the other speakers' the training set.</summary>
    public string? HeldOutSpeaker { get; init; }

    /// <summary>Throws on a setting out of range.</summary>
    public void Validate()
    {
        if (TrainUtterances < 0 || TestUtterances < 0) throw new ArgumentOutOfRangeException(nameof(TrainUtterances), "utterance counts must be >= 0");
        if (MinDigits < 1 || MaxDigits < MinDigits) throw new ArgumentOutOfRangeException(nameof(MinDigits), $"need 1 <= MinDigits <= MaxDigits, found {MinDigits} and {MaxDigits}");
        if (!(MinGapSeconds >= 0 && MaxGapSeconds >= MinGapSeconds && MaxGapSeconds <= 10)) throw new ArgumentOutOfRangeException(nameof(MinGapSeconds), $"need 0 <= MinGapSeconds <= MaxGapSeconds <= 10, found {MinGapSeconds} and {MaxGapSeconds}");
        if (!(LevelDb >= 0 && LevelDb <= 40)) throw new ArgumentOutOfRangeException(nameof(LevelDb), LevelDb, "must be in [0, 40] dB");
        if (NoiseDb is { } n && !(n <= 0 && n >= -140)) throw new ArgumentOutOfRangeException(nameof(NoiseDb), n, "must be in [-140, 0] dB");
    }
}

/// <summary>One generated utterance: its recipe, and its text (the digits separated by spaces, e.g. "4 0 7").</summary>
/// <param name="Name">File name stem, unique within its split (e.g. "train-00042").</param>
/// <param name="Split">"train" or "test".</param>
/// <param name="Speaker">The one speaker of every clip in it.</param>
/// <param name="Clips">The clips in order.</param>
/// <param name="GapsSeconds">Silence before each clip and after the last one (Clips.Count + 1 values).</param>
/// <param name="GainsDb">Each clip's level change, dB.</param>
/// <param name="NoiseSeed">Seed of its background noise.</param>
public sealed record DigitUtterance(string Name, string Split, string Speaker, IReadOnlyList<DigitClip> Clips, double[] GapsSeconds, double[] GainsDb, ulong NoiseSeed)
{
    /// <summary>The transcript: the digits separated by single spaces, so a word is a digit and WER is the digit error rate.</summary>
    public string Text => string.Join(' ', Clips.Select(c => c.Digit.ToString(CultureInfo.InvariantCulture)));
}

/// <summary>
/// Connected-digit utterances built from FSDD single-digit recordings, deterministically from a seed: each utterance is
/// 3-7 clips of one speaker, each digit drawn uniformly and its take drawn uniformly among that speaker's clips of the
/// digit in the split, the clips joined by pauses of random length (also before the first and after the last) with a
/// random level change per clip, over low background noise. The official split takes test utterances only from the
/// official test clips (takes 0-4) and training utterances from takes 5-49; the held-out-speaker split trains on the
/// other five speakers and tests on all clips of the held-out one. <see cref="Plan"/> draws every choice;
/// <see cref="Render"/> makes the samples; <see cref="Write"/> writes WAV files and transcript lists.
/// </summary>
public static class ConnectedDigits
{
    /// <summary>The recordings of an FSDD folder (<c>recordings/</c>), sorted by file name.</summary>
    public static List<DigitClip> ListClips(string folder)
    {
        var result = new List<DigitClip>();
        foreach (var (file, _) in AudioClips.List(folder))
        {
            string name = Path.GetFileName(file);
            var parts = name.Split('.')[0].Split('_');
            if (parts.Length != 3 || parts[0].Length != 1 || parts[0][0] is < '0' or > '9' || parts[1].Length == 0
                || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int take))
                throw new RecurFormatException(file, "file name", $"expected '<digit>_<speaker>_<take>.wav[.gz]' (FSDD), found '{name}'");
            result.Add(new DigitClip(file, parts[0][0] - '0', parts[1], take));
        }
        return result;
    }

    /// <summary>Every utterance's recipe: the training ones, then the test ones.</summary>
    public static List<DigitUtterance> Plan(IReadOnlyList<DigitClip> clips, ConnectedDigitOptions options)
    {
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var speakers = clips.Select(c => c.Speaker).Distinct().Order(StringComparer.Ordinal).ToList();
        Func<DigitClip, bool> inTest;
        if (options.HeldOutSpeaker is { } held)
        {
            if (!speakers.Contains(held)) throw new ArgumentException($"held-out speaker '{held}' has no recordings; expected one of {string.Join(", ", speakers)}", nameof(options));
            inTest = c => c.Speaker == held;
        }
        else inTest = c => c.IsOfficialTest;
        var rng = new Rng(options.Seed);
        var result = new List<DigitUtterance>();
        foreach (var (split, count) in new[] { ("train", options.TrainUtterances), ("test", options.TestUtterances) })
        {
            if (count == 0) continue;
            var pool = clips.Where(c => inTest(c) == (split == "test")).ToList();
            // Per speaker, per digit: the clips to draw from. A speaker needs every digit to be chosen.
            var bySpeaker = pool.GroupBy(c => c.Speaker).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => (Speaker: g.Key, Digits: Enumerable.Range(0, 10).Select(d => g.Where(c => c.Digit == d).OrderBy(c => c.File, StringComparer.Ordinal).ToList()).ToArray()))
                .Where(s => s.Digits.All(d => d.Count > 0)).ToList();
            if (bySpeaker.Count == 0) throw new ArgumentException($"no speaker has recordings of all ten digits for the {split} split", nameof(clips));
            int width = Math.Max(5, count.ToString(CultureInfo.InvariantCulture).Length);
            for (int u = 0; u < count; u++)
            {
                var (speaker, digits) = bySpeaker[rng.NextInt(bySpeaker.Count)];
                int n = options.MinDigits + rng.NextInt(options.MaxDigits - options.MinDigits + 1);
                var chosen = new DigitClip[n];
                var gains = new double[n];
                var gaps = new double[n + 1];
                for (int i = 0; i < n; i++)
                {
                    var candidates = digits[rng.NextInt(10)];
                    chosen[i] = candidates[rng.NextInt(candidates.Count)];
                    gains[i] = (2 * rng.NextDouble() - 1) * options.LevelDb;
                }
                for (int i = 0; i <= n; i++) gaps[i] = options.MinGapSeconds + rng.NextDouble() * (options.MaxGapSeconds - options.MinGapSeconds);
                string name = $"{split}-{u.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0')}";
                result.Add(new DigitUtterance(name, split, speaker, chosen, gaps, gains, rng.NextUInt64()));
            }
        }
        return result;
    }

    /// <summary>
    /// The samples of <paramref name="utterance"/> at <paramref name="sampleRate"/>: pauses and gained clips in turn,
    /// plus the background noise; scaled down as a whole if its peak would pass 0.99 of full scale.
    /// <paramref name="read"/> gives a clip's samples at that rate.
    /// </summary>
    public static float[] Render(DigitUtterance utterance, ConnectedDigitOptions options, int sampleRate, Func<DigitClip, float[]> read)
    {
        ArgumentNullException.ThrowIfNull(utterance);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(read);
        var clipSamples = utterance.Clips.Select(read).ToArray();
        var gapSamples = utterance.GapsSeconds.Select(s => (int)Math.Round(s * sampleRate)).ToArray();
        var output = new float[clipSamples.Sum(c => c.Length) + gapSamples.Sum()];
        int pos = gapSamples[0];
        for (int i = 0; i < clipSamples.Length; i++)
        {
            float gain = (float)Math.Pow(10, utterance.GainsDb[i] / 20);
            for (int j = 0; j < clipSamples[i].Length; j++) output[pos + j] = clipSamples[i][j] * gain;
            pos += clipSamples[i].Length + gapSamples[i + 1];
        }
        if (options.NoiseDb is { } db)
        {
            var noise = new Rng(utterance.NoiseSeed);
            double std = Math.Pow(10, db / 20);
            for (int i = 0; i < output.Length; i++) output[i] += (float)(std * noise.NextNormal());
        }
        float peak = 0;
        foreach (float x in output) peak = Math.Max(peak, Math.Abs(x));
        if (peak > 0.99f)
        {
            float scale = 0.99f / peak;
            for (int i = 0; i < output.Length; i++) output[i] *= scale;
        }
        return output;
    }

    /// <summary>
    /// Plans and writes the utterances into <paramref name="outputDir"/>: <c>train/NAME.wav</c> and
    /// <c>test/NAME.wav</c> (16-bit PCM at the recordings' rate), then <c>train.tsv</c> and <c>test.tsv</c>
    /// (<c>path&lt;TAB&gt;text</c>, paths relative to the folder) and <c>sources.tsv</c> (each utterance's speaker,
    /// clips, pauses and gains). Every file is written atomically, the lists last. Returns the utterances.
    /// </summary>
    public static List<DigitUtterance> Write(string recordings, string outputDir, ConnectedDigitOptions options, ReadLimits? limits = null)
    {
        var clips = ListClips(recordings);
        var plan = Plan(clips, options);
        var cache = new Dictionary<string, Audio>(StringComparer.Ordinal);
        int rate = 0;
        float[] Read(DigitClip c)
        {
            if (!cache.TryGetValue(c.File, out var a)) cache[c.File] = a = Wav.Read(c.File, limits);
            if (rate == 0) rate = a.SampleRate;
            if (a.SampleRate != rate) throw new RecurFormatException(c.File, "'fmt ' field 'sample rate'", $"expected {rate} Hz like the other recordings, found {a.SampleRate} Hz");
            return a.Samples;
        }
        if (plan.Count > 0) Read(plan[0].Clips[0]);
        foreach (var split in new[] { "train", "test" }) Directory.CreateDirectory(Path.Combine(outputDir, split));
        var lists = new Dictionary<string, StringBuilder> { ["train"] = new(), ["test"] = new() };
        var sources = new StringBuilder("file\tspeaker\ttext\tclips\tpauses_s\tgains_db\n");
        foreach (var u in plan)
        {
            var samples = Render(u, options, rate, Read);
            string relative = $"{u.Split}/{u.Name}.wav";
            var bytes = Wav.Write16(samples, rate);
            AtomicFile.Write(Path.Combine(outputDir, u.Split, u.Name + ".wav"), s => s.Write(bytes));
            lists[u.Split].Append(relative).Append('\t').Append(u.Text).Append('\n');
            sources.Append(relative).Append('\t').Append(u.Speaker).Append('\t').Append(u.Text).Append('\t')
                .AppendJoin(' ', u.Clips.Select(c => Path.GetFileName(c.File))).Append('\t')
                .AppendJoin(' ', u.GapsSeconds.Select(g => g.ToString("0.000", CultureInfo.InvariantCulture))).Append('\t')
                .AppendJoin(' ', u.GainsDb.Select(g => g.ToString("0.00", CultureInfo.InvariantCulture))).Append('\n');
        }
        var utf8 = new UTF8Encoding(false);
        AtomicFile.Write(Path.Combine(outputDir, "sources.tsv"), s => s.Write(utf8.GetBytes(sources.ToString())));
        foreach (var (split, text) in lists)
            AtomicFile.Write(Path.Combine(outputDir, split + ".tsv"), s => s.Write(utf8.GetBytes(text.ToString())));
        return plan;
    }
}
