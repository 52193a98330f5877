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
