using Recur.Scoring;
using Recur.Data;
using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;
using Recur.Training;

namespace Recur.Tests.Models;

public class Seq2SeqTests
{
    private static Seq2Seq Make(RecurrentMode decoderCell = RecurrentMode.Lstm, int decoderLayers = 1, bool bidirectional = true, ulong seed = 1) =>
        new(new Seq2SeqConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 8, EmbeddingDim = 4, HiddenSize = 5, Bidirectional = bidirectional, Layers = 2 },
            TargetVocabulary = 9, BosId = 2, EosId = 3,
            DecoderEmbedding = 4, DecoderHidden = 6, DecoderCell = decoderCell, DecoderLayers = decoderLayers,
        }, new Rng(seed));

    private static TranslationBatch Batch() =>
        TranslationBatch.Create(
            [[4, 5, 6], [7], [5, 5, 6, 7, 4]],
            [[4, 5], [6, 7, 8, 4], [8]],
            [0, 1, 2], bos: 2, eos: 3);

    [Theory]
    [InlineData(RecurrentMode.Lstm, 1, true)]
    [InlineData(RecurrentMode.Gru, 2, false)]
    public void GradientsMatchFiniteDifferences(RecurrentMode cell, int layers, bool bidirectional)
    {
        var model = Make(cell, layers, bidirectional);
        ModelGradientTests.CheckGradients(model, Batch(), samples: 5);
    }

    [Fact]
    public void AProjectedLstmEncoderBridgesItsProjectedFinalStatesAndItsGradientsMatchFiniteDifferences()
    {
        var model = new Seq2Seq(new Seq2SeqConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 8, EmbeddingDim = 4, HiddenSize = 5, ProjSize = 3, Bidirectional = true, Layers = 2 },
            TargetVocabulary = 9, BosId = 2, EosId = 3, DecoderEmbedding = 4, DecoderHidden = 6,
        }, new Rng(1));
        Assert.Equal(6, model.Encoder.OutputSize);
        ModelGradientTests.CheckGradients(model, Batch(), samples: 5);
        Assert.InRange(model.Greedy([4, 5, 6], 6).Length, 0, 6);   // decoding starts from the bridged projected states
    }

    [Fact]
    public void BatchWrapsTargetsInBosAndEos()
    {
        var b = Batch();
        Assert.Equal([4, 6, 3], b.TargetLengths);
        Assert.Equal(6, b.TargetSteps);
        Assert.Equal([2, 4, 5, 3, 0, 0], b.Target[..6]);
    }

    [Fact]
    public void LearnsToReverseSequencesAndDecodesGreedyAndBeamAlike()
    {
        // Target = source reversed: needs attention to positions, not just a bag of tokens.
        var rng = new Rng(5);
        var srcs = new List<int[]>();
        var tgts = new List<int[]>();
        for (int i = 0; i < 400; i++)
        {
            var s = Enumerable.Range(0, 2 + rng.NextInt(4)).Select(_ => 4 + rng.NextInt(4)).ToArray();
            srcs.Add(s);
            tgts.Add(s.Reverse().Select(v => v + 1).ToArray());
        }
        var model = new Seq2Seq(new Seq2SeqConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 8, EmbeddingDim = 16, HiddenSize = 24, Bidirectional = true },
            TargetVocabulary = 9, BosId = 2, EosId = 3, DecoderEmbedding = 16, DecoderHidden = 48,
        }, new Rng(6));
        var batchRng = new Rng(7);
        new Trainer<TranslationBatch>(new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = 25 })
            .Fit(model, _ => Batching.Batches(new int[350], 25, batchRng, bucket: false).Select(b => TranslationBatch.Create(srcs, tgts, b, 2, 3)));
        int greedyRight = 0, beamRight = 0;
        for (int i = 350; i < 400; i++)
        {
            if (model.Greedy(srcs[i], 10).SequenceEqual(tgts[i])) greedyRight++;
            if (model.Beam(srcs[i], 10, 4).SequenceEqual(tgts[i])) beamRight++;
        }
        for (int i = 350; i < 353; i++)
            TestContext.Current.TestOutputHelper?.WriteLine($"src {string.Join(",", srcs[i])} tgt {string.Join(",", tgts[i])} greedy {string.Join(",", model.Greedy(srcs[i], 10))} beam {string.Join(",", model.Beam(srcs[i], 10, 4))} beam1 {string.Join(",", model.Beam(srcs[i], 10, 1))}");
        Assert.True(greedyRight >= 45, $"greedy got {greedyRight} of 50");
        Assert.True(beamRight >= 45, $"beam got {beamRight} of 50");
    }

    [Fact]
    public void DecodingStopsAtTheMaximumLength()
    {
        var model = Make();
        Assert.True(model.Greedy([4, 5], 3).Length <= 3);
        Assert.True(model.Beam([4, 5], 3, 3).Length <= 3);
    }

    [Fact]
    public void ScheduledSamplingFeedsPredictionsButKeepsTheLossFinite()
    {
        var model = Make();
        model.ScheduledSamplingRatio = 1f;
        var l = model.Step(Batch(), backward: true);
        Assert.True(double.IsFinite(l.Loss));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ScheduledSamplingRatio = 1.5f);
    }
}

public class BleuTests
{
    // Whitespace tokens, no smoothing: the definition NLTK's corpus_bleu shares with sacreBLEU's "none" settings.
    private static readonly BleuOptions Plain = new() { Tokenization = BleuTokenization.None, Smoothing = BleuSmoothing.None };

    [Fact]
    public void MatchesTheKnownNltkCorpusBleuExample()
    {
        // NLTK's corpus_bleu doctest (Papineni et al.'s example sentences): 0.5920778868801042.
        const string hyp1 = "It is a guide to action which ensures that the military always obeys the commands of the party";
        const string ref1a = "It is a guide to action that ensures that the military will forever heed Party commands";
        const string ref1b = "It is the guiding principle which guarantees the military forces always being under the command of the Party";
        const string ref1c = "It is the practical guide for the army always to heed the directions of the party";
        const string hyp2 = "he read the book because he was interested in world history";
        const string ref2a = "he was interested in world history because he read the book";
        double bleu = Bleu.CorpusMulti([hyp1, hyp2], [[ref1a, ref1b, ref1c], [ref2a]], Plain).Score / 100;
        Assert.Equal(0.5920778868801042, bleu, 12);
    }

    [Fact]
    public void IdenticalIsOneDisjointIsZeroAndShortCandidatesArePenalised()
    {
        const string a = "the cat sat on the mat";
        Assert.Equal(1.0, Bleu.Corpus([a], [a], Plain).Score / 100, 12);
        Assert.Equal(0.0, Bleu.Corpus(["dog runs far away now"], [a], Plain).Score);
        // Every n-gram precision is 1, so BLEU is the brevity penalty exp(1 - 6/4).
        Assert.Equal(Math.Exp(1 - 6.0 / 4), Bleu.Corpus(["the cat sat on"], [a], Plain).Score / 100, 12);
    }

    [Fact]
    public void ExpSmoothingKeepsShortOutputsAboveZero()
    {
        // The issue's case: short phrases with no matching 4-gram; unsmoothed BLEU is 0, sacreBLEU's exp smoothing is not.
        string[] hyp = ["hello there my friend", "i m ok", "thanks"], refs = ["hello there my dear friend", "i m fine", "thank you"];
        Assert.Equal(0.0, Bleu.Corpus(hyp, refs, Plain).Score);
        Assert.True(Bleu.Corpus(hyp, refs).Score > 0);
    }
}

public class TranslationDataTests
{
    [Theory]
    [InlineData("I'm OK.", "i m ok .")]
    [InlineData("Ça alors\u202f!", "ca alors !")]
    [InlineData("  Élève, cœur ?", "eleve c ur ?")]
    [InlineData("He's 30 years old!", "he s years old !")]
    public void NormalizeFollowsThePyTorchTutorial(string raw, string expected) =>
        Assert.Equal(expected, TranslationData.Normalize(raw));

    [Fact]
    public void KeepAppliesThePrefixAndLengthFilter()
    {
        Assert.True(TranslationData.Keep("i m ok .", "je vais bien ."));
        Assert.False(TranslationData.Keep("it is ok .", "c est bon ."));
        Assert.False(TranslationData.Keep("i am a very very very very very tired man .", "je suis fatigue ."));
    }
}
