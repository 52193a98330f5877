using Recur.Models;
using Recur.Models.Decoding;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Models;

/// <summary>The decoders against a scripted model whose next-token log-probabilities depend only on the last token.</summary>
public class DecodingTests
{
    /// <summary>
    /// V = 4: 0 = bos, 1 = eos, 2 and 3 words. From bos, 2 is likelier than 3, but 2 then leads to poor continuations
    /// while 3 leads to eos with certainty: greedy takes 2, a beam of 2 finds 3 eos. The state counts steps in its
    /// hidden vector, one row per hypothesis, so gathering along the beam is visible.
    /// </summary>
    private sealed class Scripted : ITokenStepper
    {
        public int VocabularySize => 4;
        public int Calls;

        private static readonly double[][] Probabilities =
        [
            [0, 0.1, 0.5, 0.4],     // after bos
            [0.25, 0.25, 0.25, 0.25],
            [0, 0.4, 0.3, 0.3],     // after 2
            [0, 0.99, 0.005, 0.005], // after 3
        ];

        public (float[] Scores, RecurrentState State) Step(int[] tokens, RecurrentState state)
        {
            Calls++;
            Assert.Equal(tokens.Length, state.Hidden.Dim(1));
            var scores = tokens.SelectMany(t => Probabilities[t].Select(p => (float)Math.Log(p))).ToArray();
            var h = state.Hidden.Clone();
            for (int i = 0; i < h.Length; i++) h.Span[i] += 1;
            return (scores, RecurrentState.From(h, null));
        }
    }

    private static RecurrentState Start() => RecurrentState.From(new Tensor(1, 1, 1), null);

    [Fact]
    public void GreedyTakesTheArgmaxAndStopsAtEos()
    {
        // bos -> 2 (0.5), then eos is the likeliest (0.4): greedy stops after one word.
        Assert.Equal([2], GreedyDecoder.Decode(new Scripted(), Start(), bos: 0, eos: 1, maxLength: 10));
        Assert.Empty(GreedyDecoder.Decode(new Scripted(), Start(), 0, 1, maxLength: 0));
    }

    [Fact]
    public void BeamFindsTheBetterSequenceThatGreedyMisses()
    {
        // p(2 eos) = 0.5 * 0.4 = 0.2 < p(3 eos) = 0.4 * 0.99.
        Assert.Equal([3], new BeamSearch(2, lengthPenalty: 0f).Decode(new Scripted(), Start(), 0, 1, 10));
        // A beam of one is greedy.
        Assert.Equal(GreedyDecoder.Decode(new Scripted(), Start(), 0, 1, 10), new BeamSearch(1, 0f).Decode(new Scripted(), Start(), 0, 1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BeamSearch(0));
    }

    [Fact]
    public void SamplerDrawsOneValuePerTokenLikeSampling()
    {
        var model = new Scripted();
        var (first, state0) = model.Step([0], Start());
        var samplerRng = new Rng(9);
        var tokens = new Sampler(1f).Generate(model, first, state0, 6, samplerRng);
        // The same draws by hand: Sampling.Sample on each step's scores, fed back.
        var rng = new Rng(9);
        var (scores, state) = (first, state0);
        var expected = new int[6];
        for (int i = 0; i < 6; i++)
        {
            expected[i] = Sampling.Sample(scores, 1f, 0, 1f, rng);
            if (i + 1 < 6) (scores, state) = model.Step([expected[i]], state);
        }
        Assert.Equal(expected, tokens);
        Assert.Equal(rng.NextDouble(), samplerRng.NextDouble());   // exactly one draw per token
        Assert.Equal(6.0, state.Hidden.Span[0]);                   // the prompt step and five more, fed back in turn
    }

    [Fact]
    public void Seq2SeqShorthandsAreTheDecodersOverStartDecoding()
    {
        var model = new Seq2Seq(new Seq2SeqConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 8, EmbeddingDim = 4, HiddenSize = 5, Bidirectional = true },
            TargetVocabulary = 9, BosId = 2, EosId = 3, DecoderEmbedding = 4, DecoderHidden = 6, Dropout = 0.3f,
        }, new Rng(1));
        var (decoder, start) = model.StartDecoding([4, 5, 6]);
        Assert.Equal(model.Greedy([4, 5, 6], 7), GreedyDecoder.Decode(decoder, start, 2, 3, 7));
        (decoder, start) = model.StartDecoding([4, 5, 6]);
        Assert.Equal(model.Beam([4, 5, 6], 7, 3), new BeamSearch(3).Decode(decoder, start, 2, 3, 7));
        Assert.True(model.Training); // decoding ran in evaluation mode and gave the mode back
    }
}

/// <summary>Batched decoding against one sentence at a time, and the repetition remedies.</summary>
public class BatchedDecodingTests
{
    private static Seq2Seq Model(RecurrentMode cell) => new(new Seq2SeqConfig
    {
        Encoder = new EncoderConfig { VocabularySize = 30, EmbeddingDim = 8, HiddenSize = 12, Bidirectional = true, Cell = cell },
        TargetVocabulary = 25, BosId = 2, EosId = 3, DecoderEmbedding = 8, DecoderHidden = 24, DecoderCell = cell,
    }, new Rng(7));

    private static List<int[]> Sources()
    {
        var rng = new Rng(11);
        return [.. Enumerable.Range(0, 23).Select(i => Enumerable.Range(0, 1 + i % 9).Select(_ => 4 + (int)(rng.NextDouble() * 26) % 26).ToArray())];
    }

    [Theory]
    [InlineData(RecurrentMode.Lstm, 1, 1f, LengthPenaltyForm.Power, 0)]
    [InlineData(RecurrentMode.Lstm, 3, 1f, LengthPenaltyForm.Power, 0)]
    [InlineData(RecurrentMode.Gru, 5, 0.6f, LengthPenaltyForm.Gnmt, 0)]
    [InlineData(RecurrentMode.Lstm, 4, 0f, LengthPenaltyForm.Power, 2)]
    public void BatchedBeamSearchGivesTheTokensOfOneSentenceAtATime(RecurrentMode cell, int width, float alpha, LengthPenaltyForm form, int noRepeat)
    {
        var model = Model(cell);
        var sources = Sources();
        var search = new BeamSearch(width, alpha, form, noRepeat);
        var batched = model.DecodeMany(sources, 12, search, batchSize: 7);
        var together = model.DecodeMany(sources, 12, search, batchSize: 100);
        for (int i = 0; i < sources.Count; i++)
        {
            var (decoder, start) = model.StartDecoding(sources[i]);
            var alone = search.Decode(decoder, start, 2, 3, 12);
            Assert.Equal(alone, batched[i].Tokens);
            Assert.Equal(alone, together[i].Tokens);
            Assert.Equal(batched[i].Ended, together[i].Ended);
        }
    }

    /// <summary>
    /// A token that stays live changes nothing; one cancelled after the first batch (from the progress callback) stops
    /// the decode at the next output step, so no later batch is finished.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void DecodeManyStopsAtTheNextStepOnceItsTokenIsCancelled(int width)
    {
        var model = Model(RecurrentMode.Lstm);
        var sources = Sources();
        var search = width > 1 ? new BeamSearch(width) : null;
        var plain = model.DecodeMany(sources, 12, search, 0, batchSize: 5);
        using var live = new CancellationTokenSource();
        var withToken = model.DecodeMany(sources, 12, search, 0, 5, null, live.Token);
        Assert.Equal(plain.Select(d => d.Tokens), withToken.Select(d => d.Tokens));

        using var cancel = new CancellationTokenSource();
        var done = new List<int>();
        Assert.Throws<OperationCanceledException>(() => model.DecodeMany(sources, 12, search, 0, 5, n => { done.Add(n); cancel.Cancel(); }, cancel.Token));
        Assert.Equal([5], done);
        Assert.Throws<OperationCanceledException>(() => model.DecodeMany(sources, 12, search, 0, 5, null, new CancellationToken(canceled: true)));
    }

    [Theory]
    [InlineData(RecurrentMode.Lstm, 0)]
    [InlineData(RecurrentMode.Gru, 2)]
    public void BatchedGreedyGivesTheTokensOfOneSentenceAtATime(RecurrentMode cell, int noRepeat)
    {
        var model = Model(cell);
        var sources = Sources();
        var batched = model.DecodeMany(sources, 12, null, noRepeat, batchSize: 5);
        for (int i = 0; i < sources.Count; i++)
        {
            var alone = model.Greedy(sources[i], 12, noRepeat);
            Assert.Equal(alone, batched[i].Tokens);
            Assert.Equal(alone.Length < 12, batched[i].Ended); // shorter than the limit: it produced eos
        }
    }

    /// <summary>
    /// V = 5: 0 bos, 1 eos; the same probabilities after every token. By default token 2 is always likeliest, then 3,
    /// then 4, and eos is unlikely: outputs loop.
    /// </summary>
    private sealed class Looping(double eos = 0.01, double two = 0.6, double three = 0.25, double four = 0.14) : ITokenStepper
    {
        public int VocabularySize => 5;
        public (float[] Scores, RecurrentState State) Step(int[] tokens, RecurrentState state) =>
            ([.. tokens.SelectMany(_ => new[] { 0.0, eos, two, three, four }.Select(p => (float)Math.Log(p)))], RecurrentState.From(state.Hidden, null));
    }

    [Fact]
    public void NoRepeatNgramBlocksTheLoop()
    {
        var start = RecurrentState.From(new Tensor(1, 1, 1), null);
        Assert.Equal([2, 2, 2, 2, 2, 2], GreedyDecoder.Decode(new Looping(), start, 0, 1, 6));
        // No token twice: 2, 3, 4, then only eos is left.
        Assert.Equal([2, 3, 4], GreedyDecoder.Decode(new Looping(), start, 0, 1, 6, noRepeatNgram: 1));
        // No bigram twice: 2 2 is used once, then 2 3, 3 2 ...
        var two = GreedyDecoder.Decode(new Looping(), start, 0, 1, 12, noRepeatNgram: 2);
        var bigrams = two.Zip(two.Skip(1)).ToList();
        Assert.Equal(bigrams.Count, bigrams.Distinct().Count());
        Assert.Equal([2, 2, 3, 2, 4, 2], two[..6]);
        // The beam search blocks the same way.
        Assert.Equal([2, 3, 4], new BeamSearch(3, 0f, noRepeatNgram: 1).Decode(new Looping(), start, 0, 1, 6));
    }

    [Fact]
    public void LengthPenaltiesFavourLongerHypothesesThanRawLogProbability()
    {
        // eos 0.3, token 2 0.4: with raw log-probability (alpha 0) the empty output (log 0.3) beats every longer one
        // (k log 0.4 + log 0.3); dividing by length (power, alpha 1) or by GNMT's ((5 + length)/6)^5 picks the longest.
        var start = RecurrentState.From(new Tensor(1, 1, 1), null);
        var model = new Looping(eos: 0.3, two: 0.4, three: 0.2, four: 0.1);
        Assert.Empty(new BeamSearch(2, 0f).Decode(model, start, 0, 1, 4));
        Assert.Equal([2, 2, 2, 2], new BeamSearch(2, 1f).Decode(model, start, 0, 1, 4));
        Assert.Equal([2, 2, 2, 2], new BeamSearch(2, 5f, LengthPenaltyForm.Gnmt).Decode(model, start, 0, 1, 4));
        // GNMT with alpha 2 still prefers the empty output here: (5 + 1)/6 = 1 leaves it unpenalised.
        Assert.Empty(new BeamSearch(2, 2f, LengthPenaltyForm.Gnmt).Decode(model, start, 0, 1, 4));
    }
}
