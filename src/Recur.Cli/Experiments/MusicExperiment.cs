using System.Diagnostics;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// One-to-many music generation on the generated piano rolls (scales, arpeggios and chords in every key): the
/// condition is [major, minor, key one-hot]; four (key, mode) combinations are held out to measure whether the model
/// composes key and mode. Reports the NLL per step and writes generated pieces as MIDI files.
/// </summary>
internal static class MusicExperiment
{
    public sealed record Options(string Output, ulong Seed = 42, int Epochs = 800, int Hidden = 128);

    public sealed record Result(double TrainNll, double HeldOutNll, double UntrainedNll, TimeSpan Time, List<string> Files);

    private const int Low = 48, Range = 48, ConditionSize = 14;

    public static Result Run(Options o, bool verbose = true)
    {
        Directory.CreateDirectory(o.Output);
        var pieces = PianoRoll.ScalesAndArpeggios();
        string json = Path.Combine(o.Output, "scales-and-arpeggios.json");
        PianoRoll.WriteJson(json, pieces.Select(p => p.Piece));
        var loaded = PianoRoll.ReadJson(json); // the model trains on what the JSON reader gives back
        var data = loaded.Zip(pieces, (p, q) => (Piece: p, q.Condition)).ToList();
        int[] heldOutConditions = [5 * 2 + 1, 8 * 2 + 0, 2 * 2 + 1, 11 * 2 + 0]; // F minor, G# major, D minor, B major
        var train = data.Where(d => !heldOutConditions.Contains(d.Condition)).ToList();
        var held = data.Where(d => heldOutConditions.Contains(d.Condition)).ToList();
        if (verbose) Console.WriteLine($"music: {data.Count} generated pieces ({json}), {train.Count} to train, {held.Count} held out (F minor, G# major, D minor, B major)");

        var model = new ConditionalGenerator(new GeneratorConfig { ConditionSize = ConditionSize, FrameSize = Range, HiddenSize = o.Hidden }, new Rng(o.Seed));
        var trainBatch = Batch(train);
        var heldBatch = Batch(held);
        double untrained = model.NllPerStep(heldBatch);
        var trainer = new Trainer<FrameBatch>(new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = o.Epochs, LogEvery = 100 });
        if (verbose) trainer.Progress += p => { if (p.Kind == ProgressKind.Step) Console.WriteLine($"  step {p.Step}  NLL per step {p.Loss:F3}"); };
        var clock = Stopwatch.StartNew();
        trainer.Fit(model, _ => [trainBatch]);
        var time = clock.Elapsed;
        double trainNll = model.NllPerStep(trainBatch), heldNll = model.NllPerStep(heldBatch);

        var files = new List<string>();
        var rng = new Rng(o.Seed + 1);
        foreach (var (name, key, minor, temperature) in new[] { ("c-major-greedy", 0, false, 0f), ("a-minor-sampled", 9, true, 1f), ("f-minor-held-out-greedy", 5, true, 0f) })
        {
            var frames = model.Generate(Condition(key, minor), 32, temperature, rng);
            var piece = PianoRoll.Decode(frames, Low, Range);
            string path = Path.Combine(o.Output, name + ".mid");
            Recur.Data.Midi.Write(path, piece);
            files.Add(path);
            if (verbose) Console.WriteLine($"  {name}: {string.Join(" ", piece.Steps.Take(16).Select(s => s.Length == 0 ? "-" : string.Join("+", s)))} ...  -> {path}");
        }
        if (verbose)
            Console.WriteLine($"NLL per step (nats, summed over {Range} pitches): training pieces {trainNll:F3}, held-out keys {heldNll:F3} (untrained model {untrained:F1}); {ProgressPrinter.Format(time)}");
        return new Result(trainNll, heldNll, untrained, time, files);
    }

    private static float[] Condition(int key, bool minor)
    {
        var c = new float[ConditionSize];
        c[minor ? 1 : 0] = 1f;
        c[2 + key] = 1f;
        return c;
    }

    private static FrameBatch Batch(List<(Piece Piece, int Condition)> items)
    {
        int t = items.Max(p => p.Piece.Steps.Length);
        var frames = new Tensor(items.Count, t, Range);
        var cond = new Tensor(items.Count, ConditionSize);
        for (int i = 0; i < items.Count; i++)
        {
            PianoRoll.Encode(items[i].Piece, Low, Range).CopyTo(frames.Span.Slice(i * t * Range));
            Condition(items[i].Condition / 2, items[i].Condition % 2 == 1).CopyTo(cond.Span.Slice(i * ConditionSize));
        }
        return new FrameBatch { Frames = frames, Conditions = cond, Lengths = items.Select(p => p.Piece.Steps.Length).ToArray() };
    }
}
