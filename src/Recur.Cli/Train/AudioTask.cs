namespace Recur.Cli.Train;

/// <summary>
/// Many-to-one on audio: a folder of WAV files (PCM 8/16-bit mono, optionally .wav.gz) -> MFCC frames -> a recurrent
/// classifier. Labels come from the file name up to its first '_' (FSDD's "7_jackson_32.wav" is a 7) or from a CSV
/// of file,label (--labels). Features are standardised with training statistics stored in the model file.
/// </summary>
internal static class AudioTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    private sealed record Clip(string File, float[] Frames, int Steps, string Label);

    private static FeatureOptions Options(Settings s) => new() { Coefficients = s.Int("mfcc", 1, 128), MelBands = s.Int("mel-bands", 2, 256) };

    /// <summary>
    /// The WAV files of a folder, or of a list file: one path per line (relative to the list's folder), optionally
    /// followed by a comma or TAB and the label (list labels take the place of --labels).
    /// </summary>
    private static List<string> Files(string folder, Dictionary<string, string> listLabels)
    {
        if (File.Exists(folder))
        {
            string baseDir = Path.GetDirectoryName(Path.GetFullPath(folder)) ?? ".";
            var list = new List<string>();
            var lines = DataFiles.Lines(DataFiles.ReadAllText(folder));
            for (int i = 0; i < lines.Count; i++)
            {
                if (lines[i].Trim().Length == 0) continue;
                var cells = lines[i].Split(lines[i].Contains('\t') ? '\t' : ',');
                string file = Path.Combine(baseDir, cells[0].Trim());
                if (!File.Exists(file)) throw new RecurFormatException(folder, $"line {i + 1}", $"expected an existing WAV file, found '{cells[0].Trim()}' (paths are relative to the list's folder)");
                list.Add(file);
                if (cells.Length > 1) listLabels[Path.GetFileName(file)] = cells[1].Trim();
            }
            if (list.Count == 0) throw new RecurFormatException(folder, "file", "expected one WAV path per line, found none");
            return list;
        }
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: expected a folder of .wav or .wav.gz files (or a list file), found neither");
        var files = Directory.GetFiles(folder).Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".wav.gz", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new RecurFormatException(folder, "folder", "expected .wav or .wav.gz files, found none");
        return files;
    }

    private static Dictionary<string, string>? LabelCsv(Settings s)
    {
        if (s.Optional("labels") is not { } path) return null;
        var t = DelimitedTable.Read(path, DelimitedTable.DelimiterFor(path), hasHeader: false, s.Limits);
        if (t.Columns < 2) throw new RecurFormatException(path, "line 1", $"expected 2 columns (file,label), found {t.Columns}");
        return t.Rows.ToDictionary(r => t.Cell(r, 0, "file name"), r => t.Cell(r, 1, "label"), StringComparer.Ordinal);
    }

    private static string LabelOf(string file, Dictionary<string, string>? csv)
    {
        string name = Path.GetFileName(file);
        if (csv is not null)
            return csv.TryGetValue(name, out var l) ? l : throw new RecurFormatException(file, "--labels", $"expected a row for '{name}' in the labels CSV, found none");
        int cut = name.IndexOf('_');
        if (cut <= 0) throw new RecurFormatException(file, "file name", $"expected '<label>_<anything>.wav' (or give --labels file,label), found '{name}'");
        return name[..cut];
    }

    private static Clip Load(string file, Settings s, AudioFeatures? features, out AudioFeatures used, Dictionary<string, string>? labels, bool needLabel = true)
    {
        var audio = Wav.Read(file, s.Limits);
        used = features ?? new AudioFeatures(audio.SampleRate, Options(s));
        if (audio.SampleRate != used.SampleRate)
            throw new RecurFormatException(file, "'fmt ' field 'sample rate'", $"expected {used.SampleRate} Hz like the training audio, found {audio.SampleRate}");
        var frames = used.Compute(audio.Samples);
        int steps = frames.Length / used.Width;
        if (steps > s.Int("max-length", 1)) throw new RecurFormatException(file, "length", $"expected at most {s.Int("max-length", 1)} frames (--max-length), found {steps}");
        return new Clip(file, frames, steps, needLabel ? LabelOf(file, labels) : "");
    }

    /// <summary>The clips of a folder or list file; labels from --labels, else from the list, else from the file names.</summary>
    private static List<Clip> LoadAll(string source, Settings s, ref AudioFeatures? features, Dictionary<string, string>? labelsCsv)
    {
        var listed = new Dictionary<string, string>(StringComparer.Ordinal);
        var files = Files(source, listed);
        var labels = labelsCsv ?? (listed.Count > 0 ? listed : null);
        var result = new List<Clip>();
        foreach (var f in files) { result.Add(Load(f, s, features, out var used, labels)); features = used; }
        return result;
    }

    private static SequenceBatch Batch(IReadOnlyList<Clip> clips, Standardizer standardizer, int[]? targets)
    {
        int w = standardizer.Columns, steps = clips.Max(c => c.Steps);
        var x = new Tensor(clips.Count, steps, w);
        for (int i = 0; i < clips.Count; i++)
            for (int t = 0; t < clips[i].Steps; t++) standardizer.Apply(clips[i].Frames.AsSpan(t * w, w), x.Span.Slice((i * steps + t) * w, w));
        return new SequenceBatch { Features = x, Lengths = clips.Select(c => c.Steps).ToArray(), Steps = steps, Targets = targets };
    }

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        var labelsCsv = LabelCsv(s);
        AudioFeatures? features = null;
        var all = LoadAll(s.Str("data"), s, ref features, labelsCsv);
        List<Clip> train, valid;
        if (s.Optional("valid") is { } vp) { train = all; valid = LoadAll(vp, s, ref features, labelsCsv); }
        else { var (ti, vi) = Common.Split(all.Count, s); train = ti.Select(i => all[i]).ToList(); valid = vi.Select(i => all[i]).ToList(); }
        int w = features!.Width;
        var standardizer = Standardizer.FitFrames(train, c => c.Frames, c => c.Steps, w);
        var labels = train.Select(c => c.Label).Distinct().Order(StringComparer.Ordinal).ToList();
        var trainY = Common.LabelIds(labels, train.Select(c => (c.Label, 0)).ToList(), s.Str("data"));
        var validY = Common.LabelIds(labels, valid.Select(c => (c.Label, 0)).ToList(), s.Optional("valid") ?? s.Str("data"));
        ctx.PrintConfig($"{train.Count} training / {valid.Count} validation recordings at {features.SampleRate} Hz, {w} MFCC per frame, {labels.Count} labels");

        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = Common.Encoder(s, null, w),
            Pooling = Enum.Parse<Pooling>(s.Choice("pooling", "last", "mean", "max"), ignoreCase: true),
            Classes = labels.Count,
        }, Common.ModelRng(s));
        int batch = s.Int("batch-size", 1);
        var shuffle = Common.ShuffleRng(s);
        var lengths = train.Select(c => c.Steps).ToArray();
        var probe = Common.Probe(model, Batch(train.Take(batch).ToList(), standardizer, trainY.Take(batch).ToArray()));
        ctx.ProbeAtStart(model.Encoder.Rnn, probe);
        ctx.Fit(model, _ => Batching.Batches(lengths, batch, shuffle).Select(b => Batch(b.Select(i => train[i]).ToList(), standardizer, b.Select(i => trainY[i]).ToArray())),
            (train.Count + batch - 1) / batch,
            valid.Count > 0 ? () => { var m = Score(model, valid, validY, labels, standardizer).Metrics; return new Evaluation("accuracy", m["accuracy"], true, new Dictionary<string, double> { ["macro_f1"] = m["macro_f1"] }); } : null,
            shuffle);
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle
        {
            Model = model, Labels = labels,
            Preprocessing = new ModelPreprocessing { Standardizer = standardizer, Audio = new AudioFrontEnd { SampleRate = features.SampleRate, Features = features.Options } },
        };
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : Score(model, valid, validY, labels, standardizer);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Confusion = outcome.Confusion, ConfusionLabels = labels, Samples = outcome.Samples,
            Rnn = model.Encoder.Rnn, GradientProbe = probe,
        };
    }

    private static TaskOutcome Score(SequenceClassifier model, List<Clip> clips, int[] y, IReadOnlyList<string> labels, Standardizer standardizer)
    {
        var (pred, loss) = Common.Classify(model, clips.Count, y, labels.Count, 128, idx => Batch(idx.Select(i => clips[i]).ToList(), standardizer, null));
        var (acc, f1, confusion) = Common.ClassMetrics(pred, y, labels.Count);
        return new TaskOutcome
        {
            Bundle = new ModelBundle { Model = model },
            Metrics = new() { ["accuracy"] = acc, ["macro_f1"] = f1, ["loss"] = loss },
            Confusion = confusion, ConfusionLabels = labels,
            Samples = clips.Take(20).Select((c, i) => (Path.GetFileName(c.File), c.Label, labels[pred[i]])).ToList(),
        };
    }

    private static (AudioFeatures Features, Standardizer Standardizer) Stored(ModelBundle b) =>
        (b.Preprocessing?.Audio?.CreateFeatures() ?? throw new RecurFormatException("model", "preprocessing.audio", "expected the audio front end of an audio classifier, found none"),
         b.Preprocessing.Standardizer ?? throw new RecurFormatException("model", "preprocessing.standardizer", "expected the MFCC standardisation statistics, found none"));

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var (features, standardizer) = Stored(bundle);
        AudioFeatures? f = features;
        var clips = LoadAll(path, s, ref f, LabelCsv(s));
        var labels = bundle.Labels!;
        var y = Common.LabelIds(labels, clips.Select(c => (c.Label, 0)).ToList(), path);
        return Score((SequenceClassifier)bundle.Model, clips, y, labels, standardizer);
    }

    /// <summary>Each input line is the path of a WAV file; the library's <see cref="ModelBundle.ClassifyAudio(string, ReadLimits?)"/> does the rest.</summary>
    private static void Predict(ModelBundle bundle, Settings s, TextReader input, TextWriter output, bool json)
    {
        Stored(bundle);
        foreach (var (text, _) in Common.InputLines(input))
        {
            string file = text.Trim();
            Common.PrintClassification(output, json, bundle.Labels!, bundle.ClassifyAudio(file, s.Limits).Probabilities, "file", file);
        }
    }
}
