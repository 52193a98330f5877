using System.Globalization;

namespace Recur.Cli.Train;

/// <summary>
/// One-to-many music: piano-roll JSON (pieces -> steps -> MIDI pitches) -> a piano-roll generator (a sigmoid per pitch,
/// binary cross-entropy). Unconditional: the conditioning vector is a constant 1, so generation continues a seed. The
/// pitch range is taken from the training pieces (widened by an octave, within 0..127) and stored in the model file.
/// </summary>
internal static class MusicTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    private static FrameBatch Batch(IReadOnlyList<Piece> pieces, int lowest, int range)
    {
        int t = pieces.Max(p => p.Steps.Length);
        var frames = new Tensor(pieces.Count, t, range);
        var cond = new Tensor(pieces.Count, 1);
        cond.Span.Fill(1f);
        for (int i = 0; i < pieces.Count; i++) PianoRoll.Encode(pieces[i], lowest, range).CopyTo(frames.Span.Slice(i * t * range));
        return new FrameBatch { Frames = frames, Conditions = cond, Lengths = pieces.Select(p => p.Steps.Length).ToArray() };
    }

    private static List<Piece> Read(string path, Settings s)
    {
        var pieces = PianoRoll.ReadJson(path, s.Limits);
        int max = s.Int("max-length", 1);
        for (int i = 0; i < pieces.Count; i++)
        {
            if (pieces[i].Steps.Length == 0) throw new RecurFormatException(path, $"piece {i}", "expected at least one step, found an empty piece");
            if (pieces[i].Steps.Length > max) throw new RecurFormatException(path, $"piece {i}", $"expected at most {max} steps (--max-length), found {pieces[i].Steps.Length}");
        }
        return pieces;
    }

    private static (int Lowest, int Range) Range(ModelBundle b) =>
        (b.Preprocessing?.Music?.LowestPitch ?? throw new RecurFormatException("model", "preprocessing.music", "expected the piano-roll range of a music model, found none"),
         ((ConditionalGenerator)b.Model).Config.FrameSize);

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        var all = Common.Head(Read(dataPath, s), s);
        List<Piece> train, valid;
        if (s.Optional("valid") is { } vp) { train = all; valid = Read(vp, s); }
        else { var (ti, vi) = Common.Split(all.Count, s); train = ti.Select(i => all[i]).ToList(); valid = vi.Select(i => all[i]).ToList(); }
        var pitches = train.SelectMany(p => p.Steps.SelectMany(x => x)).ToList();
        if (pitches.Count == 0) throw new RecurFormatException(dataPath, "file", "expected at least one note in the training pieces, found only rests");
        int lowest = Math.Max(0, pitches.Min() - 12), highest = Math.Min(127, pitches.Max() + 12), range = highest - lowest + 1;
        int longest = train.Max(p => p.Steps.Length), musicBatch = s.Int("batch-size", 1), moments = Common.OptimizerMoments(s);
        ctx.CheckMemory(MemoryEstimate.ForRecurrent(Common.Cell(s), range + 1, s.Int("hidden", 1), s.Int("layers", 1), false, longest, musicBatch, moments, s.Float("dropout", 0f, 0.99f) > 0)
                        + MemoryEstimate.ForDense((double)range * (s.Int("hidden", 1) + 1), (double)longest * musicBatch * range * 3, moments),
            $"batches of {musicBatch} x {longest} steps");
        ctx.PrintConfig($"{train.Count} training / {valid.Count} validation pieces, pitches {lowest}..{highest} ({range} units per step)");

        var model = new ConditionalGenerator(new GeneratorConfig
        {
            ConditionSize = 1, FrameSize = range, Cell = Common.Cell(s), HiddenSize = s.Int("hidden", 1), Layers = s.Int("layers", 1), Dropout = s.Float("dropout", 0f, 0.99f),
        }, Common.ModelRng(s));
        int batch = s.Int("batch-size", 1);
        var shuffle = Common.ShuffleRng(s);
        var lengths = train.Select(p => p.Steps.Length).ToArray();
        FrameBatch? validBatch = null;
        if (valid.Count > 0)
        {
            try { validBatch = Batch(valid, lowest, range); }
            catch (ArgumentException e) { throw new RecurFormatException(s.Optional("valid") ?? dataPath, "pitches", $"expected pitches in the training range {lowest}..{highest}: {e.Message}"); }
        }
        var probe = Common.Probe(model, Batch(train.Take(batch).ToList(), lowest, range), model.Step);
        ctx.ProbeAtStart(probe);
        ctx.Fit(model, _ => Batching.Batches(lengths, batch, shuffle).Select(b => Batch(b.Select(i => train[i]).ToList(), lowest, range)),
            (train.Count + batch - 1) / batch, validBatch is null ? null : () => new Evaluation("nll_per_step", model.NllPerStep(validBatch), false), shuffle);
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle { Model = model, Preprocessing = new ModelPreprocessing { Music = new PianoRollRange { LowestPitch = lowest } } };
        var eval = validBatch ?? Batch(train, lowest, range);
        var m = new Dictionary<string, double> { ["nll_per_step"] = model.NllPerStep(eval), ["train_nll_per_step"] = model.NllPerStep(Batch(train, lowest, range)) };
        var sample = PianoRoll.Decode(model.Generate([1f], 16, 0f, new Rng(s.Seed + 3), PianoRoll.Encode(new Piece(train[0].Steps[..Math.Min(4, train[0].Steps.Length)]), lowest, range)), lowest, range);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = m, Split = validBatch is null ? "train" : "val",
            Samples = [("first 4 steps of training piece 0, greedy", Show(train[0]), Show(sample))],
            GradientProbe = probe,
        };
    }

    public static string Show(Piece p) => string.Join(" ", p.Steps.Take(24).Select(x => x.Length == 0 ? "-" : string.Join("+", x)));

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var (lowest, range) = Range(bundle);
        var pieces = Read(path, s);
        FrameBatch b;
        try { b = Batch(pieces, lowest, range); }
        catch (ArgumentException e) { throw new RecurFormatException(path, "pitches", $"expected pitches in the model's range {lowest}..{lowest + range - 1}: {e.Message}"); }
        return new TaskOutcome { Bundle = bundle, Metrics = new() { ["nll_per_step"] = ((ConditionalGenerator)bundle.Model).NllPerStep(b) } };
    }

    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json) =>
        throw new ArgumentException("predict does not apply to music models: use `recur generate --model M --length N [--seed-json F] [--midi OUT.mid]`");

    /// <summary>recur generate for music: continues the seed piece (or starts from silence) and returns the piece (<see cref="ModelBundle.GeneratePiece"/>).</summary>
    public static Piece Generate(ModelBundle bundle, Piece? seed, int length, float temperature, ulong rngSeed) =>
        bundle.GeneratePiece(seed, length, temperature, rngSeed);
}
