using System.Globalization;

namespace Recur.Cli.Train;

/// <summary>
/// One-to-many music: piano-roll JSON (pieces -> steps -> MIDI pitches) -> a piano-roll generator (a sigmoid per pitch,
/// binary cross-entropy). Unconditional: the conditioning vector is a constant 1, so generation continues a seed. The
/// roll has one unit per pitch of --pitch-range (default 21-108, the 88 piano keys, the field's convention), stored in
/// the model file; a pitch outside it in any data file is an error naming the file, piece and step. The metric is the
/// negative log-likelihood per frame: the Bernoulli NLL summed over the range's keys, averaged over the frames.
/// </summary>
internal static class MusicTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    /// <summary>The 88 keys of the piano, MIDI 21 (A0) to 108 (C8): the piano-roll range of the music literature.</summary>
    public const string PianoKeys = "21-108";

    private static FrameBatch Batch(IReadOnlyList<Piece> pieces, int lowest, int range)
    {
        int t = pieces.Max(p => p.Steps.Length);
        var frames = new Tensor(pieces.Count, t, range);
        var cond = new Tensor(pieces.Count, 1);
        cond.Span.Fill(1f);
        for (int i = 0; i < pieces.Count; i++) PianoRoll.Encode(pieces[i], lowest, range).CopyTo(frames.Span.Slice(i * t * range));
        return new FrameBatch { Frames = frames, Conditions = cond, Lengths = pieces.Select(p => p.Steps.Length).ToArray() };
    }

    /// <summary>--pitch-range LOW-HIGH: the lowest MIDI pitch and the number of pitches (HIGH - LOW + 1).</summary>
    public static (int Lowest, int Range) PitchRange(Settings s)
    {
        string v = s.Str("pitch-range");
        var parts = v.Split('-', StringSplitOptions.TrimEntries);
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int low)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int high) && low <= high && high <= 127)
            return (low, high - low + 1);
        throw new ArgumentException($"--pitch-range: expected LOW-HIGH, two MIDI pitches with 0 <= LOW <= HIGH <= 127 (e.g. {PianoKeys}, the 88 piano keys), found '{v}'");
    }

    /// <summary>Reads pieces and checks their lengths and that every pitch lies in [lowest, lowest + range), naming the file, piece and step.</summary>
    private static List<Piece> Read(string path, Settings s, int lowest, int range, string rangeName)
    {
        var pieces = PianoRoll.ReadJson(path, s.Limits);
        int max = s.Int("max-length", 1);
        for (int i = 0; i < pieces.Count; i++)
        {
            if (pieces[i].Steps.Length == 0) throw new RecurFormatException(path, $"piece {i}", "expected at least one step, found an empty piece");
            if (pieces[i].Steps.Length > max) throw new RecurFormatException(path, $"piece {i}", $"expected at most {max} steps (--max-length), found {pieces[i].Steps.Length}");
            for (int t = 0; t < pieces[i].Steps.Length; t++)
                foreach (int p in pieces[i].Steps[t])
                    if (p < lowest || p >= lowest + range)
                        throw new RecurFormatException(path, $"piece {i} step {t}", $"expected MIDI pitches in {rangeName} {lowest}-{lowest + range - 1}, found {p}");
        }
        return pieces;
    }

    private static (int Lowest, int Range) Range(ModelBundle b) =>
        (b.Preprocessing?.Music?.LowestPitch ?? throw new RecurFormatException("model", "preprocessing.music", "expected the piano-roll range of a music model, found none"),
         ((ConditionalGenerator)b.Model).Config.FrameSize);

    /// <summary>What nll_per_frame means, for the output and the report.</summary>
    private static string Definition(int lowest, int range, int frames, int pieces, string source) =>
        $"nll_per_frame: negative log-likelihood per frame in nats, the Bernoulli NLL summed over the {range} keys of MIDI {lowest}-{lowest + range - 1}" +
        (range == 88 && lowest == 21 ? " (the 88 piano keys)" : "") + $", averaged over the {frames} frames of the {pieces} pieces of {source}";

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        var (lowest, range) = PitchRange(s);
        List<Piece> ReadRange(string path) => Read(path, s, lowest, range, "--pitch-range");
        var all = Common.Head(ReadRange(dataPath), s);
        List<Piece> train, valid;
        if (s.Optional("valid") is { } vp) { train = all; valid = ReadRange(vp); }
        else { var (ti, vi) = Common.Split(all.Count, s); train = ti.Select(i => all[i]).ToList(); valid = vi.Select(i => all[i]).ToList(); }
        var test = s.Optional("test") is { } tp ? ReadRange(tp) : null;
        if (!train.Any(p => p.Steps.Any(x => x.Length > 0)))
            throw new RecurFormatException(dataPath, "file", "expected at least one note in the training pieces, found only rests");
        int longest = train.Max(p => p.Steps.Length), musicBatch = s.Int("batch-size", 1), moments = Common.OptimizerMoments(s);
        float dropout = s.Float("dropout", 0f, 0.99f);
        ctx.CheckMemory(MemoryEstimate.ForRecurrent(Common.Cell(s), range + 1, s.Int("hidden", 1), s.Int("layers", 1), false, longest, musicBatch, moments, dropout > 0)
                        + MemoryEstimate.ForDense((double)range * (s.Int("hidden", 1) + 1), (double)longest * musicBatch * range * 3, moments),
            $"batches of {musicBatch} x {longest} steps");
        ctx.PrintConfig($"{train.Count} training / {valid.Count} validation{(test is null ? "" : $" / {test.Count} test")} pieces, " +
                        $"pitches {lowest}..{lowest + range - 1} ({range} units per frame; the NLL is per frame, summed over them)");

        var model = new ConditionalGenerator(new GeneratorConfig
        {
            ConditionSize = 1, FrameSize = range, Cell = Common.Cell(s), HiddenSize = s.Int("hidden", 1), Layers = s.Int("layers", 1), Dropout = dropout,
        }, Common.ModelRng(s));
        int batch = s.Int("batch-size", 1);
        var shuffle = Common.ShuffleRng(s);
        var lengths = train.Select(p => p.Steps.Length).ToArray();
        FrameBatch? validBatch = valid.Count > 0 ? Batch(valid, lowest, range) : null;
        var probe = Common.Probe(model, Batch(train.Take(batch).ToList(), lowest, range), model.Step);
        ctx.ProbeAtStart(probe);
        ctx.Fit(model, _ => Batching.Batches(lengths, batch, shuffle).Select(b => Batch(b.Select(i => train[i]).ToList(), lowest, range)),
            (train.Count + batch - 1) / batch, validBatch is null ? null : () => new Evaluation("nll_per_frame", model.NllPerStep(validBatch), false), shuffle);
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle { Model = model, Preprocessing = new ModelPreprocessing { Music = new PianoRollRange { LowestPitch = lowest } } };
        // The figure: on --test when given, else on the validation pieces, else on the training pieces (the note says which).
        var (scored, source) = test is not null ? (test, "the test file") : valid.Count > 0 ? (valid, "the validation pieces") : (train, "the training pieces");
        var m = new Dictionary<string, double> { ["nll_per_frame"] = model.NllPerStep(Batch(scored, lowest, range)), ["train_nll_per_frame"] = model.NllPerStep(Batch(train, lowest, range)) };
        var sample = PianoRoll.Decode(model.Generate([1f], 16, 0f, new Rng(s.Seed + 3), PianoRoll.Encode(new Piece(train[0].Steps[..Math.Min(4, train[0].Steps.Length)]), lowest, range)), lowest, range);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = m, Split = test is not null ? "test" : valid.Count > 0 ? "val" : "train",
            Notes = [Definition(lowest, range, scored.Sum(p => p.Steps.Length), scored.Count, source)],
            Samples = [("first 4 steps of training piece 0, greedy", Show(train[0]), Show(sample))],
            GradientProbe = probe,
        };
    }

    public static string Show(Piece p) => string.Join(" ", p.Steps.Take(24).Select(x => x.Length == 0 ? "-" : string.Join("+", x)));

    /// <summary>
    /// NLL per frame over the model's own range: --pitch-range for models trained since it exists; for older models, the
    /// range they took from their training data (the note says which range).
    /// </summary>
    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var (lowest, range) = Range(bundle);
        var pieces = Read(path, s, lowest, range, "the model's range");
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = new() { ["nll_per_frame"] = ((ConditionalGenerator)bundle.Model).NllPerStep(Batch(pieces, lowest, range)) },
            Notes = [Definition(lowest, range, pieces.Sum(p => p.Steps.Length), pieces.Count, path)],
        };
    }

    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json) =>
        throw new ArgumentException("predict does not apply to music models: use `recur generate --model M --length N [--seed-json F] [--midi OUT.mid]`");

    /// <summary>recur generate for music: continues the seed piece (or starts from silence) and returns the piece (<see cref="ModelBundle.GeneratePiece"/>).</summary>
    public static Piece Generate(ModelBundle bundle, Piece? seed, int length, float temperature, ulong rngSeed) =>
        bundle.GeneratePiece(seed, length, temperature, rngSeed);
}
