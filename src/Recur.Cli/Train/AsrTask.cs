using System.Globalization;
using Recur.Models.Decoding;

namespace Recur.Cli.Train;

/// <summary>
/// Speech recognition with CTC: WAV files with transcripts (a list file of path,text or path TAB text lines, or a
/// folder with --transcripts) -> log-mel/MFCC frames, optional deltas, standardised, SpecAugment masks (training only),
/// stacked k frames at a time -> a (Bi)LSTM/LSTMP/GRU stack -> linear over the blank and the transcript characters,
/// trained with the CTC loss. Scored by character and word error rate and whole-utterance accuracy.
/// </summary>
internal static class AsrTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    /// <summary>One utterance: its file and transcript, its standardised frames before stacking, and its labels.</summary>
    private sealed record Utterance(TranscribedFile Source, float[] Frames, int Steps, int[] Labels);

    private static SpeechFeatureOptions FrontOptions(Settings s) => new()
    {
        Audio = s.Choice("features", "mfcc", "logmel") == "logmel"
            ? new FeatureOptions { Coefficients = 0, MelBands = s.Int("mel-bands", 2, 256) }
            : new FeatureOptions { Coefficients = s.Int("mfcc", 1, 128), MelBands = s.Int("mel-bands", 2, 256) },
        DeltaOrder = s.Int("deltas", 0, 2),
        Stack = s.Int("subsample", 1, 16),
    };

    private static SpecAugment Augment(Settings s)
    {
        var a = new SpecAugment
        {
            FrequencyMasks = s.Int("freq-masks", 0, 16), FrequencyWidth = s.Int("freq-mask-width", 0, 1024),
            TimeMasks = s.Int("time-masks", 0, 64), TimeWidth = s.Int("time-mask-width", 0, 100_000), MaxTimeFraction = s.Float("time-mask-fraction", 1e-6f, 1f),
        };
        a.Validate();
        return a;
    }

    private static List<TranscribedFile> List(Settings s, string source) => Transcripts.Read(source, s.Optional("transcripts"), s.Limits);

    /// <summary>Reads and featurises the utterances; each must have the front end's rate and at most --max-length frames.</summary>
    private static List<(TranscribedFile Source, float[] Frames, int Steps)> Featurise(List<TranscribedFile> files, SpeechFeatures front, Settings s)
    {
        int max = s.Int("max-length", 1);
        var result = new List<(TranscribedFile, float[], int)>(files.Count);
        foreach (var f in files)
        {
            var samples = SpeechAudio.Read(f.File, front.SampleRate, s.Limits);
            int frames = front.Audio.FrameCount(samples.Length);
            if (frames > max) throw new RecurFormatException(f.File, "length", $"expected at most {max} frames (--max-length), found {frames}");
            var (x, steps) = front.Frames(samples);
            result.Add((f, x, steps));
        }
        return result;
    }

    /// <summary>Labels of every utterance (a character outside the set is an error naming the line), checked to fit a CTC alignment after stacking.</summary>
    private static List<Utterance> Label(List<(TranscribedFile Source, float[] Frames, int Steps)> items, CharacterSet chars, int stack)
    {
        var result = new List<Utterance>(items.Count);
        foreach (var (source, frames, steps) in items)
        {
            var labels = chars.Encode(source.Text, source.Source);
            Transcripts.CheckAlignable(source, labels.Length, SpeechRecognizer.MinimumSteps(labels), FrameStacking.StackedSteps(steps, stack));
            result.Add(new Utterance(source, frames, steps, labels));
        }
        return result;
    }

    /// <summary>A batch: the utterances' frames (masked when <paramref name="augment"/> is given), stacked, padded.</summary>
    private static SpeechBatch Batch(IReadOnlyList<Utterance> data, int[] idx, SpeechFeatures front, SpecAugment? augment, Rng? rng)
    {
        var stacked = new float[idx.Length][];
        int channels = front.Audio.Width, blocks = front.Options.DeltaOrder + 1;
        for (int k = 0; k < idx.Length; k++)
        {
            var u = data[idx[k]];
            var frames = u.Frames;
            if (augment is not null && !augment.IsNone)
            {
                frames = (float[])frames.Clone();
                augment.Apply(frames, u.Steps, channels, blocks, rng!);
            }
            stacked[k] = front.Stack(frames, u.Steps).Frames;
        }
        var input = SequenceBatch.FromFeatures(stacked, front.Width);
        return new SpeechBatch { Input = input, Labels = idx.Select(i => data[i].Labels).ToArray() };
    }

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        var files = Common.Head(List(s, s.Str("data")), s);
        int rate = Wav.Read(files[0].File, s.Limits).SampleRate;
        var plain = new SpeechFeatures(rate, FrontOptions(s));
        List<TranscribedFile> trainFiles, validFiles;
        if (s.Optional("valid") is { } vp) { trainFiles = files; validFiles = List(s, vp); }
        else { var (ti, vi) = Common.Split(files.Count, s); trainFiles = ti.Select(i => files[i]).ToList(); validFiles = vi.Select(i => files[i]).ToList(); }
        var trainRaw = Featurise(trainFiles, plain, s);
        var validRaw = Featurise(validFiles, plain, s);
        var chars = CharacterSet.Build(trainFiles.Select(f => f.Text));
        var standardizer = Standardizer.FitFrames(trainRaw, u => u.Frames, u => u.Steps, plain.FrameWidth);
        foreach (var u in trainRaw.Concat(validRaw)) standardizer.ApplyInPlace(u.Frames);
        var front = plain.With(standardizer);
        var train = Label(trainRaw, chars, front.Options.Stack);
        var valid = Label(validRaw, chars, front.Options.Stack);
        var augment = Augment(s);
        Search(s, chars);   // a bad --beam or --grammar (a character the model lacks) fails before training, not after

        var encoder = Common.Encoder(s, null, front.Width);
        int batch = s.Int("batch-size", 1);
        int longest = train.Max(u => FrameStacking.StackedSteps(u.Steps, front.Options.Stack));
        ctx.CheckMemory(Common.EncoderMemory(s, encoder, longest, batch, chars.Count, perStep: true), $"batches of {batch} x {longest} steps");
        ctx.PrintConfig($"{train.Count} training / {valid.Count} validation utterances at {rate} Hz, {front.FrameWidth} features per frame x {front.Options.Stack} stacked = {front.Width} per step, " +
                        $"{chars.Count - 1} characters + blank{(augment.IsNone ? "" : ", SpecAugment on")}");

        var model = new SpeechRecognizer(new RecognizerConfig { Encoder = encoder, Classes = chars.Count }, Common.ModelRng(s));
        var shuffle = Common.ShuffleRng(s);
        var lengths = train.Select(u => u.Steps).ToArray();
        var probe = Common.Probe(model, Batch(train, Enumerable.Range(0, Math.Min(batch, train.Count)).ToArray(), front, null, null), model.Step);
        ctx.ProbeAtStart(probe);
        ctx.Fit(model, epoch =>
            {
                // SpecAugment draws from a stream of its own per epoch, so a resumed epoch masks as the first run did.
                var masks = new Rng(s.Seed + 7 + (ulong)epoch * 1_000_003UL);
                return Batching.Batches(lengths, batch, shuffle).Select(b => Batch(train, b, front, augment, masks));
            },
            (train.Count + batch - 1) / batch,
            valid.Count > 0 ? () =>
            {
                var m = Score(model, valid, front, chars, s).Metrics;
                return new Evaluation("cer", m["cer"], false, new Dictionary<string, double> { ["wer"] = m["wer"], ["utterance_accuracy"] = m["utterance_accuracy"] });
            } : null,
            shuffle);
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle
        {
            Model = model, Labels = chars.Symbols,
            Preprocessing = new ModelPreprocessing
            {
                Standardizer = standardizer,
                Audio = new AudioFrontEnd { SampleRate = rate, Features = front.Options.Audio, DeltaOrder = NullIfZero(front.Options.DeltaOrder), Stack = front.Options.Stack == 1 ? null : front.Options.Stack },
            },
        };
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : Score(model, valid, front, chars, s);
        return new TaskOutcome { Bundle = bundle, Metrics = outcome.Metrics, Notes = outcome.Notes, Samples = outcome.Samples, GradientProbe = probe, Split = TaskOutcome.SplitOf(s) };
    }

    private static int? NullIfZero(int v) => v == 0 ? null : v;

    /// <summary>
    /// The decoder --beam and --grammar ask for: null for best path (--beam 1, no grammar), else a CTC prefix beam
    /// search of --beam prefixes, constrained to the grammar when one is given.
    /// </summary>
    public static CtcPrefixBeamSearch? Search(Settings s, CharacterSet chars)
    {
        int beam = s.Int("beam", 1, 10_000);
        var grammar = s.Optional("grammar") is { } g ? Grammar(g.Trim(), chars, s.Limits) : null;
        return beam == 1 && grammar is null ? null : new CtcPrefixBeamSearch(beam, grammar);
    }

    /// <summary>Words of several characters, or transcripts, are separated by the space, which the model must know.</summary>
    private static int Space(CharacterSet chars, string what) =>
        chars.Symbols.ToList().IndexOf(" ") is int i and >= 0 ? i + 1
            : throw new ArgumentException($"--grammar: {what} are separated by spaces, but the model's characters hold no space ({string.Join(" ", chars.Symbols)})");

    /// <summary>The automaton of --grammar digits:MIN-MAX, words:FILE or list:FILE over the model's characters.</summary>
    private static CtcConstraint Grammar(string spec, CharacterSet chars, ReadLimits limits)
    {
        int colon = spec.IndexOf(':');
        string kind = colon < 0 ? spec : spec[..colon], arg = colon < 0 ? "" : spec[(colon + 1)..];
        switch (kind)
        {
            case "digits":
            {
                var parts = arg.Split('-');
                if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int min) ||
                    !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int max) || min < 1 || max < min || max > 1000)
                    throw new ArgumentException($"--grammar: expected digits:MIN-MAX with 1 <= MIN <= MAX <= 1000 (e.g. digits:3-7), found '{spec}'");
                var symbols = chars.Symbols.ToList();
                var digits = Enumerable.Range(0, 10).Select(d => symbols.IndexOf(d.ToString(CultureInfo.InvariantCulture))).Where(i => i >= 0).Select(i => i + 1).ToArray();
                if (digits.Length == 0) throw new ArgumentException($"--grammar {spec}: the model's characters hold no digit ({string.Join(" ", chars.Symbols)})");
                return CtcConstraint.DigitStrings(digits, min, max, max > 1 ? Space(chars, "digits") : -1);
            }
            case "words" or "list":
            {
                if (arg.Length == 0) throw new ArgumentException($"--grammar: expected {kind}:FILE, found '{spec}'");
                var entries = new List<int[]>();
                var lines = DataFiles.Lines(DataFiles.ReadAllText(arg, limits));
                for (int n = 0; n < lines.Count; n++)
                {
                    string line = lines[n].Trim();
                    if (line.Length == 0) continue;
                    if (kind == "words" && line.Contains(' ')) throw new RecurFormatException(arg, $"line {n + 1}", $"expected one word (no spaces), found '{line}'");
                    try { entries.Add(chars.Encode(line, arg)); }
                    catch (RecurFormatException e) { throw new RecurFormatException(arg, $"line {n + 1}", e.Problem); }
                }
                if (entries.Count == 0) throw new RecurFormatException(arg, "file", $"expected at least one {(kind == "words" ? "word" : "transcript")}, one per line, found none");
                return kind == "words" ? CtcConstraint.Words(entries, Space(chars, "words")) : CtcConstraint.Transcripts(entries);
            }
            default:
                throw new ArgumentException($"--grammar: expected digits:MIN-MAX, words:FILE or list:FILE, found '{spec}'");
        }
    }

    private static string Decoding(CtcPrefixBeamSearch? search, Settings s) => search is null ? "greedy (best-path) decoding"
        : $"CTC prefix beam search of {search.BeamWidth} prefixes{(search.Constraint is null ? "" : $" constrained to the grammar {s.Str("grammar")}")}";

    /// <summary>Loss, and CER, WER and utterance accuracy of the --beam/--grammar decoding.</summary>
    private static TaskOutcome Score(SpeechRecognizer model, List<Utterance> data, SpeechFeatures front, CharacterSet chars, Settings s)
    {
        var search = Search(s, chars);
        using var mode = model.EvaluationMode();
        var greedy = new string[data.Count];
        double lossSum = 0;
        for (int start = 0; start < data.Count; start += 64)
        {
            var idx = Enumerable.Range(start, Math.Min(64, data.Count - start)).ToArray();
            var b = Batch(data, idx, front, null, null);
            lossSum += model.Step(b, backward: false).Loss * idx.Length;
            var texts = SpeechDecoding.Decode(model.Logits(b.Input), b.Input.Lengths, chars, search);
            for (int k = 0; k < idx.Length; k++) greedy[idx[k]] = texts[k];
        }
        var metrics = SpeechDecoding.Metrics(data.Select(u => u.Source.Text).ToArray(), greedy);
        metrics["loss"] = lossSum / Math.Max(1, data.Count);
        return new TaskOutcome
        {
            Bundle = new ModelBundle { Model = model },
            Metrics = metrics,
            Notes = [$"cer, wer, utterance_accuracy: {Decoding(search, s)} of {data.Count} utterances; wer counts words split on white space; loss: CTC per transcript character"],
            Samples = data.Take(20).Select((u, i) => (Path.GetFileName(u.Source.File), u.Source.Text, greedy[i])).ToList(),
        };
    }

    private static SpeechFeatures Stored(ModelBundle b) =>
        b.SpeechFeatures() ?? throw new RecurFormatException("model", "preprocessing.audio", "expected the speech front end of a recogniser, found none");

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var front = Stored(bundle);
        var chars = new CharacterSet(bundle.Labels!);
        var data = Label(Featurise(List(s, path), front, s), chars, front.Options.Stack);
        return Score((SpeechRecognizer)bundle.Model, data, front, chars, s);
    }

    /// <summary>Each input line is the path of a WAV file; prints its transcription.</summary>
    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json)
    {
        Stored(bundle);
        var search = Search(s, new CharacterSet(bundle.Labels!));
        foreach (var (text, _) in Common.InputLines(input))
        {
            string file = text.Trim();
            string hyp = bundle.Transcribe(file, s.Limits, search);
            output.WriteLine(json ? Common.JsonLine(w => { w.WriteString("file", file); w.WriteString("text", hyp); }) : hyp);
        }
    }
}
