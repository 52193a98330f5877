using NAudio.Midi;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Optim;
using Recur.Tensors;
using Recur.Tests.Data;
using Recur.Training;

namespace Recur.Tests.Audio;

public class MusicTests
{
    [Fact]
    public void PianoRollJsonRoundTripsAndBadInputIsNamed()
    {
        using var d = new TempDir();
        var pieces = new List<Piece> { new([[60, 64, 67], [], [62]]), new([[72]]) };
        string path = Path.Combine(d.Path, "p.json");
        PianoRoll.WriteJson(path, pieces);
        var back = PianoRoll.ReadJson(path);
        Assert.Equal(2, back.Count);
        Assert.Equal([60, 64, 67], back[0].Steps[0]);
        Assert.Empty(back[0].Steps[1]);
        var e = Assert.Throws<RecurFormatException>(() => PianoRoll.ReadJson(d.File("bad.json", "[[[60, 130]]]")));
        Assert.Contains("piece 0 step 0", e.Message);
        Assert.Contains("130", e.Message);
        Assert.Throws<RecurFormatException>(() => PianoRoll.ReadJson(d.File("empty.json", "[[]]")));
        Assert.Throws<RecurFormatException>(() => PianoRoll.ReadJson(d.File("notjson.json", "[[[60]")));
    }

    [Fact]
    public void MidiFilesAreReadableByAnIndependentParserWithTheRightNotesAndTimes()
    {
        using var d = new TempDir();
        var piece = new Piece([[60, 64], [60, 64], [67], []]);
        string path = Path.Combine(d.Path, "p.mid");
        Midi.Write(path, piece, ticksPerQuarter: 480, ticksPerStep: 240);
        var midi = new MidiFile(path, strictChecking: true);
        Assert.Equal(0, midi.FileFormat);
        Assert.Equal(480, midi.DeltaTicksPerQuarterNote);
        var notes = midi.Events[0].OfType<NoteOnEvent>().Where(e => e.Velocity > 0)
            .Select(e => (e.NoteNumber, e.AbsoluteTime, e.NoteLength)).OrderBy(n => n.AbsoluteTime).ThenBy(n => n.NoteNumber).ToList();
        Assert.Equal([(60, 0L, 480), (64, 0L, 480), (67, 480L, 240)], notes);
    }

    [Fact]
    public void GeneratorLearnsTheGeneratedScalesAndItsSamplesAreValidPianoRolls()
    {
        var data = PianoRoll.ScalesAndArpeggios();
        Assert.Equal(24, data.Count);
        const int low = 48, range = 48;
        var model = new ConditionalGenerator(new GeneratorConfig { ConditionSize = 24, FrameSize = range, HiddenSize = 128 }, new Rng(1));
        FrameBatch Batch(IEnumerable<(Piece Piece, int Condition)> items)
        {
            var list = items.ToList();
            int t = list.Max(p => p.Piece.Steps.Length);
            var frames = new Tensor(list.Count, t, range);
            var cond = new Tensor(list.Count, 24);
            for (int i = 0; i < list.Count; i++)
            {
                PianoRoll.Encode(list[i].Piece, low, range).CopyTo(frames.Span.Slice(i * t * range));
                cond[i, list[i].Condition] = 1f;
            }
            return new FrameBatch { Frames = frames, Conditions = cond, Lengths = list.Select(p => p.Piece.Steps.Length).ToArray() };
        }
        var batch = Batch(data.Where(p => p.Condition < 6)); // C, C#, D in major and minor keep the test quick
        double before = model.NllPerStep(batch);
        new Trainer<FrameBatch>(new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = 700 }).Fit(model, _ => [batch]);
        double after = model.NllPerStep(batch);
        Assert.True(before > 20 && after < 0.5, $"NLL per step {before:F2} -> {after:F2}");

        // Greedy generation of C major reproduces its scale; sampled pieces stay in range.
        var cMajor = new float[24];
        cMajor[0] = 1f;
        var greedy = PianoRoll.Decode(model.Generate(cMajor, 8, 0f, new Rng(2)), low, range);
        Assert.Equal(new[] { 60, 62, 64, 65, 67, 69, 71, 72 }, greedy.Steps.Select(s => s.Single()));
        var sampled = PianoRoll.Decode(model.Generate(cMajor, 32, 1f, new Rng(3)), low, range);
        Assert.All(sampled.Steps.SelectMany(s => s), p => Assert.InRange(p, low, low + range - 1));
    }
}

public class GeneratorGradientTests
{
    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var model = new ConditionalGenerator(new GeneratorConfig { ConditionSize = 3, FrameSize = 5, HiddenSize = 6, Layers = 2 }, new Rng(1));
        var rng = new Rng(2);
        var frames = new Tensor(2, 4, 5);
        for (int i = 0; i < frames.Length; i++) frames.Span[i] = rng.NextInt(2);
        var cond = Tensor.FromArray([1f, 0f, 0f, 0f, 0.5f, 0.5f], 2, 3);
        Models.ModelGradientTests.CheckGradients(model, new FrameBatch { Frames = frames, Conditions = cond, Lengths = [4, 3] });
    }
}
