using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Models.Decoding;
using Recur.Nn;
using Recur.Optim;
using Recur.Scoring;
using Recur.Tensors;
using Recur.Tests.Data;
using Recur.Training;

namespace Recur.Tests.Speech;

/// <summary>The CTC recogniser: decoding and error rates, streaming that equals offline, model files, and learning.</summary>
public class RecognizerTests
{
    [Fact]
    public void MetricsAreTheCorpusErrorRatesWithTheirPrefix()
    {
        // words are compared as units: "1 2 3" -> "3 2 1" is 2 word substitutions
        Assert.Equal(2, ErrorRates.EditDistance<string>(["1", "2", "3"], ["3", "2", "1"]));
        // "1 2 3" -> "1 3": 2 character edits (the "2" and a space) of 8 reference characters (5 + 3); 1 word of 5; 1 of 2 exact.
        var m = SpeechDecoding.Metrics(["1 2 3", "4 5"], ["1 3", "4 5"], "val_");
        Assert.Equal(0.25, m["val_cer"], 12);
        Assert.Equal(0.2, m["val_wer"], 12);
        Assert.Equal(0.5, m["val_utterance_accuracy"], 12);
        Assert.Equal(3, m.Count);
    }

    [Fact]
    public void GreedyDecodingMergesRepeatsThenDropsBlanksWithinEachLength()
    {
        var chars = new CharacterSet(["a", "b"]);
        int[] path = [0, 1, 1, 0, 1, 2, 2, 1]; // blank a a blank a b b | a (past the length)
        var logits = new Tensor(1, path.Length, 3);
        for (int t = 0; t < path.Length; t++) logits.Span[t * 3 + path[t]] = 1f;
        Assert.Equal(["aab"], SpeechDecoding.Decode(logits, [7], chars));
        Assert.Equal(["aaba"], SpeechDecoding.Decode(logits, [8], chars));
        Assert.Equal([""], SpeechDecoding.Decode(logits, [0], chars));
    }

    [Fact]
    public void BeamDecodingFindsTheMostProbableLabellingAndAGrammarRestrictsIt()
    {
        // Two frames over (blank, a, b): t0 = (.2, .4, .4), t1 = (.4, .2, .4). Best path takes a at t0 (a tie goes to the
        // lower class) and the blank at t1: "a". The labellings, summed over their alignments:
        //   "a": (a,a) .08 + (a,-) .16 + (-,a) .04 = .28;  "b": (b,b) .16 + (b,-) .16 + (-,b) .08 = .40;
        //   "ab": .16;  "ba": .08;  "": .08 (total 1).
        var chars = new CharacterSet(["a", "b"]);
        float[] p = [0.2f, 0.4f, 0.4f, 0.4f, 0.2f, 0.4f];
        var logits = Tensor.FromArray([.. p.Select(x => MathF.Log(x))], 1, 2, 3);
        Assert.Equal(["a"], SpeechDecoding.Decode(logits, [2], chars));
        Assert.Equal(["b"], SpeechDecoding.Decode(logits, [2], chars, new CtcPrefixBeamSearch(8)));
        var onlyAb = CtcConstraint.Transcripts([chars.Encode("ab", "test"), chars.Encode("ba", "test")]);
        Assert.Equal(["ab"], SpeechDecoding.Decode(logits, [2], chars, new CtcPrefixBeamSearch(8, onlyAb)));
    }

    private static float[] Signal(int n, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(i => (float)(0.3 * Math.Sin(2 * Math.PI * (300 + (i / 800) * 150) * i / 8000.0) + 0.05 * rng.NextNormal())).ToArray();
    }

    private static (ModelBundle Bundle, SpeechFeatures Front) Untrained(RecurrentMode cell, int proj, bool bidirectional, int deltas, int stack, ulong seed)
    {
        var plain = new SpeechFeatures(8000, new SpeechFeatureOptions { DeltaOrder = deltas, Stack = stack });
        var (frames, steps) = plain.Frames(Signal(8000, 99));
        var standardizer = Standardizer.FitRows(Enumerable.Range(0, steps).Select(t => frames.AsSpan(t * plain.FrameWidth, plain.FrameWidth).ToArray()), plain.FrameWidth);
        var front = plain.With(standardizer);
        var chars = new CharacterSet(["0", "1", "2", " "]);
        var model = new SpeechRecognizer(new RecognizerConfig
        {
            Encoder = new EncoderConfig { InputFeatures = front.Width, Cell = cell, HiddenSize = 24, ProjSize = proj, Layers = 2, Bidirectional = bidirectional },
            Classes = chars.Count,
        }, new Rng(seed));
        var bundle = new ModelBundle
        {
            Model = model, Labels = chars.Symbols,
            Preprocessing = new ModelPreprocessing
            {
                Standardizer = standardizer,
                Audio = new AudioFrontEnd { SampleRate = 8000, Features = front.Options.Audio, DeltaOrder = deltas == 0 ? null : deltas, Stack = stack == 1 ? null : stack },
            },
        };
        return (bundle, front);
    }

    [Theory]
    [InlineData(RecurrentMode.Lstm, 0, 0, 1, 1)]
    [InlineData(RecurrentMode.Lstm, 12, 2, 3, 160)]
    [InlineData(RecurrentMode.Gru, 0, 1, 2, 37)]
    [InlineData(RecurrentMode.Lstm, 8, 2, 4, 800)]
    public void StreamingCarriesTheStateAndEndsWithTheOfflineGreedyText(RecurrentMode cell, int proj, int deltas, int stack, int chunk)
    {
        var (bundle, front) = Untrained(cell, proj, bidirectional: false, deltas, stack, seed: 3);
        var model = (SpeechRecognizer)bundle.Model;
        var signal = Signal(chunk == 1 ? 900 : 6000, 5);

        // The per-step outputs of the chunks equal those of the whole utterance (the state carries over exactly).
        var (frames, steps) = front.Compute(signal);
        Tensor offline;
        using (model.EvaluationMode())
            offline = model.Logits(new SequenceBatch { Features = Tensor.FromArray(frames, 1, steps, front.Width), Lengths = [steps], Steps = steps });
        var stream = front.CreateStream();
        var online = new List<float>();
        Tensor? h = null, c = null;
        void Run(float[] x)
        {
            int n = x.Length / front.Width;
            if (n == 0) return;
            using var _ = model.EvaluationMode();
            var (logits, h1, c1) = model.StreamChunk(Tensor.FromArray(x, 1, n, front.Width), h, c);
            online.AddRange(logits.Span.ToArray());
            (h, c) = (h1, c1);
        }
        foreach (var piece in PcmStream.Chunks(signal, chunk)) Run(stream.Push(piece));
        Run(stream.Finish());
        Assert.Equal(offline.Span.Length, online.Count);
        Assert.True(Support.Compare.RelativeError(online.ToArray(), offline.Span) < 1e-5, "chunked logits differ from the offline ones");

        // The recogniser object: partial hypotheses along the way, the offline greedy text at the end.
        string expected = bundle.Transcribe(signal, 8000);
        Assert.NotEqual("", expected);
        var live = bundle.CreateStreamingRecognizer();
        var partials = new List<string>();
        foreach (var piece in PcmStream.Chunks(signal, chunk)) if (live.Push(piece)) partials.Add(live.Text);
        Assert.Equal(expected, live.Finish());
        Assert.All(partials, p => Assert.StartsWith(p, expected));
        Assert.Equal(steps, live.Steps);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(37, false)]
    [InlineData(800, true)]
    public void StreamingWithABeamEndsWithTheOfflineBeamText(int chunk, bool grammar)
    {
        var (bundle, _) = Untrained(RecurrentMode.Lstm, 8, bidirectional: false, 1, 2, seed: 3);
        var chars = new CharacterSet(bundle.Labels!);
        var constraint = grammar ? CtcConstraint.DigitStrings([1, 2, 3], 1, 4, separator: 4) : null;
        var search = new CtcPrefixBeamSearch(4, constraint);
        var signal = Signal(chunk == 1 ? 900 : 6000, 5);
        string expected = bundle.Transcribe(signal, 8000, search);
        if (grammar) Assert.True(constraint!.Accepts(chars.Encode(expected, "test")), $"'{expected}' is not a digit string of the grammar");
        var live = bundle.CreateStreamingRecognizer(search);
        int changes = 0;
        foreach (var piece in PcmStream.Chunks(signal, chunk)) if (live.Push(piece)) changes++;
        Assert.Equal(expected, live.Finish());
        Assert.True(changes > 0 || expected.Length == 0, "the partial hypothesis never changed");
    }

    [Fact]
    public void ABidirectionalModelRefusesToStream()
    {
        var (bundle, _) = Untrained(RecurrentMode.Lstm, 0, bidirectional: true, 0, 1, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => bundle.CreateStreamingRecognizer());
        Assert.Contains("a bidirectional recogniser needs the whole utterance before its first output, so it cannot stream", e.Message);
        Assert.False(((SpeechRecognizer)bundle.Model).CanStream);
        Assert.NotNull(bundle.Transcribe(Signal(3000, 1), 8000)); // offline works
        Assert.Throws<RecurFormatException>(() => bundle.Transcribe(Signal(3000, 1), 16000));
    }

    [Fact]
    public void AModelFileKeepsTheFrontEndAndTheCharacters()
    {
        var (bundle, _) = Untrained(RecurrentMode.Lstm, 10, bidirectional: false, 2, 3, seed: 8);
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "asr.recur");
        ModelFile.Save(path, bundle);
        var loaded = ModelFile.Load(path);
        var signal = Signal(5000, 2);
        Assert.Equal(bundle.Transcribe(signal, 8000), loaded.Transcribe(signal, 8000));
        Assert.Equal(["0", "1", "2", " "], loaded.Labels);
        var front = loaded.SpeechFeatures()!;
        Assert.Equal(2, front.Options.DeltaOrder);
        Assert.Equal(3, front.Options.Stack);
        Assert.Contains("speech recogniser (CTC)", ModelKinds.For(loaded.Model).Describe(loaded.Model));
    }

    [Fact]
    public void TheRecogniserLearnsToSpellTonesWithCtc()
    {
        // "a" is a 300 Hz tone, "b" a 1,500 Hz one, 0.1 s each with short pauses: the model must learn the order and the
        // repeats ("abb" needs a blank between the two b's).
        string[] texts = ["ab", "ba", "abb", "bab", "aab", "b"];
        var chars = CharacterSet.Build(texts);
        var plain = new SpeechFeatures(8000, new SpeechFeatureOptions { Stack = 2 });
        var rng = new Rng(4);
        var utterances = texts.Select(text =>
        {
            var samples = new List<float>(new float[300]);
            foreach (char ch in text)
            {
                samples.AddRange(Enumerable.Range(0, 800).Select(t => (float)(0.5 * Math.Sin(2 * Math.PI * (ch == 'a' ? 300 : 1500) * t / 8000.0) + 0.01 * rng.NextNormal())));
                samples.AddRange(new float[300]);
            }
            return plain.Frames(samples.ToArray());
        }).ToList();
        var standardizer = Standardizer.FitFrames(utterances, u => u.Frames, u => u.Steps, plain.FrameWidth);
        foreach (var u in utterances) standardizer.ApplyInPlace(u.Frames);
        var stacked = utterances.Select(u => plain.Stack(u.Frames, u.Steps).Frames).ToList();
        var model = new SpeechRecognizer(new RecognizerConfig { Encoder = new EncoderConfig { InputFeatures = plain.Width, HiddenSize = 32 }, Classes = chars.Count }, new Rng(2));
        var batch = new SpeechBatch
        {
            Input = SequenceBatch.FromFeatures(stacked, plain.Width),
            Labels = texts.Select(t => chars.Encode(t, "test")).ToList(),
        };
        double first = model.Step(batch, backward: false).Loss;
        new Trainer<SpeechBatch>(new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = 200 }).Fit(model, _ => [batch]);
        double last = model.Step(batch, backward: false).Loss;
        Assert.True(last < first / 10, $"CTC loss went from {first} to {last}");
        using var _ = model.EvaluationMode();
        Assert.Equal(texts, SpeechDecoding.Decode(model.Logits(batch.Input), batch.Input.Lengths, chars));
        Assert.Equal(texts, SpeechDecoding.Decode(model.Logits(batch.Input), batch.Input.Lengths, chars, new CtcPrefixBeamSearch(4)));
    }
}
