namespace Recur.Cli.Train;

/// <summary>
/// Many-to-one on audio: a folder of WAV files (PCM 8/16-bit mono, optionally .wav.gz) -> MFCC frames -> a recurrent
/// classifier. Labels come from the file name up to its first '_' (FSDD's "7_jackson_32.wav" is a 7) or from a CSV
/// of file,label (--labels). Features are standardised with training statistics stored in the model file.
/// </summary>
internal static class AudioTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    private static FeatureOptions Options(Settings s) => new() { Coefficients = s.Int("mfcc", 1, 128), MelBands = s.Int("mel-bands", 2, 256) };

    /// <summary>The file,label table of --labels (null: labels from the list file or the file names).</summary>
    private static Dictionary<string, string>? LabelCsv(Settings s) => s.Optional("labels") is { } path ? AudioClips.ReadLabelTable(path, s.Limits) : null;

    /// <summary>The clips of a folder or list file (the library's loader), each at most --max-length frames.</summary>
    private static List<AudioClip> LoadAll(AudioClips loader, string source, Settings s, Dictionary<string, string>? labels, int maxClips = 0)
    {
        var clips = loader.Load(source, labels, maxClips: maxClips);
        foreach (var c in clips) CheckLength(c, s);
        return clips;
    }

    private static AudioClip CheckLength(AudioClip c, Settings s) =>
        c.Steps > s.Int("max-length", 1) ? throw new RecurFormatException(c.File, "length", $"expected at most {s.Int("max-length", 1)} frames (--max-length), found {c.Steps}") : c;

    private static SequenceBatch Batch(IReadOnlyList<AudioClip> clips, Standardizer standardizer, int[]? targets)
    {
        var (x, lengths, steps) = AudioClips.Pad(clips, standardizer.Columns, standardizer);
        return new SequenceBatch { Features = x, Lengths = lengths, Steps = steps, Targets = targets };
    }

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        var labelsCsv = LabelCsv(s);
        var loader = new AudioClips(Options(s), s.Limits);
        var all = LoadAll(loader, s.Str("data"), s, labelsCsv, s.Int("max-rows", 0));
        var features = loader.Features;
        List<AudioClip> train, valid;
        if (s.Optional("valid") is { } vp) { train = all; valid = LoadAll(loader, vp, s, labelsCsv); }
        else { var (ti, vi) = Common.StratifiedSplit(all.Select(c => c.Label).ToList(), s, s.Str("data")); train = ti.Select(i => all[i]).ToList(); valid = vi.Select(i => all[i]).ToList(); }
        int w = features!.Width;
        var standardizer = Standardizer.FitFrames(train, c => c.Frames, c => c.Steps, w);
        var map = LabelMap.FromData(train.Select(c => c.Label));
        var labels = map.Labels;
        var trainY = ClipLabels(map, train);
        var validY = ClipLabels(map, valid);
        int longest = train.Max(c => c.Steps);
        ctx.CheckMemory(Common.EncoderMemory(s, Common.Encoder(s, null, w), longest, s.Int("batch-size", 1), labels.Count, perStep: false),
            $"batches of {s.Int("batch-size", 1)} x {longest} frames");
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
        var probe = Common.Probe(model, Batch(train.Take(batch).ToList(), standardizer, trainY.Take(batch).ToArray()), model.Step);
        ctx.ProbeAtStart(probe);
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
            GradientProbe = probe, Split = TaskOutcome.SplitOf(s),
        };
    }

    /// <summary>The class of every clip's label; a label the model does not know is an error naming the clip's file.</summary>
    private static int[] ClipLabels(LabelMap map, List<AudioClip> clips) => clips.Select(c => map.IndexOf(c.Label, c.File, "label")).ToArray();

    private static TaskOutcome Score(SequenceClassifier model, List<AudioClip> clips, int[] y, IReadOnlyList<string> labels, Standardizer standardizer)
    {
        var e = ClassifierEvaluation.Evaluate(model, Enumerable.Range(0, clips.Count).Chunk(128).Select(idx => Batch(idx.Select(i => clips[i]).ToList(), standardizer, idx.Select(i => y[i]).ToArray())));
        return new TaskOutcome
        {
            Bundle = new ModelBundle { Model = model },
            Metrics = new() { ["accuracy"] = e.Accuracy, ["macro_f1"] = e.MacroF1, ["loss"] = e.Loss },
            Confusion = e.Confusion, ConfusionLabels = labels,
            Samples = clips.Take(20).Select((c, i) => (Path.GetFileName(c.File), c.Label, labels[e.Predicted[i]])).ToList(),
        };
    }

    private static (AudioFeatures Features, Standardizer Standardizer) Stored(ModelBundle b) =>
        (b.Preprocessing?.Audio?.CreateFeatures() ?? throw new RecurFormatException("model", "preprocessing.audio", "expected the audio front end of an audio classifier, found none"),
         b.Preprocessing.Standardizer ?? throw new RecurFormatException("model", "preprocessing.standardizer", "expected the MFCC standardisation statistics, found none"));

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var (features, standardizer) = Stored(bundle);
        var clips = LoadAll(new AudioClips(features, s.Limits), path, s, LabelCsv(s));
        var labels = bundle.Labels!;
        var y = ClipLabels(new LabelMap(labels), clips);
        return Score((SequenceClassifier)bundle.Model, clips, y, labels, standardizer);
    }

    /// <summary>Each input line is the path of a WAV file; the library's <see cref="ModelBundle.ClassifyAudio(string, ReadLimits?)"/> does the rest.</summary>
    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json)
    {
        Stored(bundle);
        foreach (var (text, _) in Common.InputLines(input))
        {
            string file = text.Trim();
            Common.PrintClassification(output, json, bundle.Labels!, bundle.ClassifyAudio(file, s.Limits).Probabilities, "file", file);
        }
    }
}
