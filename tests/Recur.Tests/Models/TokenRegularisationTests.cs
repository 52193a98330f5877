using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Models;

/// <summary>Word dropout, embedding dropout and pretrained (frozen or fine-tuned) embeddings in the token encoder.</summary>
public class TokenRegularisationTests
{
    private const int Vocab = 12, Width = 4;

    // Every word type 2..11 appears, several of them more than once; the second sequence is padded.
    private static SequenceBatch Batch() => SequenceBatch.FromTokens(
        [[2, 3, 4, 5, 2, 3, 6], [7, 8, 9, 10, 11], [4, 4, 5, 6, 7, 8]], [0, 1, 2], [0, 1, 0]);

    private static EncoderConfig Encoder(float wordDropout = 0f, float embeddingDropout = 0f) => new()
    {
        VocabularySize = Vocab, EmbeddingDim = Width, HiddenSize = 5, WordDropout = wordDropout, EmbeddingDropout = embeddingDropout,
    };

    [Fact]
    public void WordDropoutPutsUnknownInPlaceOfSomeTokensInTrainingOnly()
    {
        var enc = new SequenceEncoder(Encoder(wordDropout: 0.5f), new Rng(3));
        var batch = Batch();
        using (var pass = enc.Forward(batch))
        {
            var ids = pass.Embedded!.Ids.ToArray();
            int replaced = 0, valid = 0;
            for (int i = 0; i < batch.Batch; i++)
                for (int t = 0; t < batch.Steps; t++)
                {
                    int k = i * batch.Steps + t;
                    if (t >= batch.Lengths[i]) { Assert.Equal(0, ids[k]); continue; }   // padding is never replaced
                    valid++;
                    if (ids[k] != batch.Tokens![k]) { Assert.Equal(1, ids[k]); replaced++; }
                }
            // 18 tokens at p = 0.5: some replaced, not all (the seeded stream gives a fixed count).
            Assert.InRange(replaced, 3, valid - 3);
        }
        using (enc.EvaluationMode())
        using (var pass = enc.Forward(batch))
            Assert.Equal(batch.Tokens, pass.Embedded!.Ids.ToArray());
    }

    [Fact]
    public void EmbeddingDropoutDropsWholeWordsAndScalesTheRest()
    {
        var enc = new SequenceEncoder(Encoder(embeddingDropout: 0.5f), new Rng(5));
        var batch = Batch();
        var w = enc.Embedding!.Weight.Value.ToArray();
        using var pass = enc.Forward(batch);
        var x = pass.Embedded!.Output.ToArray();
        var factor = new Dictionary<int, float>();
        for (int k = 0; k < batch.Tokens!.Length; k++)
        {
            int id = batch.Tokens[k];
            if (id == 0) continue;
            // The row is the table's row times 0 or 1/(1-p) = 2, the same factor at every occurrence of the word.
            float f = x[k * Width] == 0f ? 0f : x[k * Width] / w[id * Width];
            Assert.True(f == 0f || Math.Abs(f - 2f) < 1e-6, $"token {id}: factor {f}");
            for (int j = 0; j < Width; j++) Assert.Equal(w[id * Width + j] * f, x[k * Width + j], 1e-6f);
            if (factor.TryGetValue(id, out float before)) Assert.Equal(before, f);
            factor[id] = f;
        }
        Assert.Contains(0f, factor.Values);
        Assert.Contains(2f, factor.Values);

        // The gradient of a dropped word is zero; of a kept word, scaled likewise.
        var dOut = new Tensor(pass.Rnn.Output.Shape.ToArray());
        dOut.Span.Fill(1f);
        pass.Backward(dOut);
        var g = enc.Embedding.Weight.Grad.ToArray();
        foreach (var (id, f) in factor)
        {
            bool zero = g.AsSpan(id * Width, Width).ToArray().All(v => v == 0f);
            Assert.Equal(f == 0f, zero);
        }
    }

    [Fact]
    public void BothAreOffByDefaultAndThenTheModelIsInitialisedAsBefore()
    {
        var plain = new EncoderConfig { VocabularySize = Vocab, EmbeddingDim = Width, HiddenSize = 5 };
        Assert.Equal(0f, plain.WordDropout);
        Assert.Equal(0f, plain.EmbeddingDropout);
        var a = new SequenceClassifier(new ClassifierConfig { Encoder = plain, Classes = 2 }, new Rng(9));
        var b = new SequenceClassifier(new ClassifierConfig { Encoder = Encoder(), Classes = 2 }, new Rng(9));
        var c = new SequenceClassifier(new ClassifierConfig { Encoder = Encoder(wordDropout: 0.2f), Classes = 2 }, new Rng(9));
        Assert.Equal(a.Head.Weight.Value.ToArray(), b.Head.Weight.Value.ToArray());
        Assert.DoesNotContain(a.NamedRngs(), r => r.Key.Contains("token_dropout", StringComparison.Ordinal));
        Assert.Single(c.NamedRngs(), r => r.Key.Contains("token_dropout", StringComparison.Ordinal));
        // Training steps without them are the same with and without a stated 0.
        var batch = Batch();
        Assert.Equal(a.Step(batch, backward: true).Loss, b.Step(batch, backward: true).Loss);
        Assert.Equal(a.Encoder.Embedding!.Weight.Grad.ToArray(), b.Encoder.Embedding!.Weight.Grad.ToArray());
    }

    [Fact]
    public void FeatureInputRefusesTokenDropout() =>
        Assert.Throws<ArgumentException>(() => new EncoderConfig { InputFeatures = 3, WordDropout = 0.1f }.Validate());

    [Fact]
    public void PretrainedRowsAreCopiedTheOthersRescaledAndPaddingStaysZero()
    {
        var e = new Embedding(5, 2, paddingIndex: 0, rng: new Rng(1));
        var before = e.Weight.Value.ToArray();
        float[] vectors = [9, 9, 0, 0, 3, -4, 0, 0, 0, 4];  // rows 2 and 4 found: root-mean-square of (3, -4, 0, 4) is sqrt(41/4)
        bool[] found = [true, false, true, false, true];    // the padding row is never overwritten
        Assert.Equal(2, e.LoadPretrained(vectors, found));
        var w = e.Weight.Value.ToArray();
        Assert.Equal(new[] { 0f, 0f }, w[..2]);
        Assert.Equal(new[] { 3f, -4f }, w[4..6]);
        Assert.Equal(new[] { 0f, 4f }, w[8..10]);
        float rms = (float)Math.Sqrt(41.0 / 4);
        foreach (int row in new[] { 1, 3 })
            for (int j = 0; j < 2; j++) Assert.Equal(before[row * 2 + j] * rms, w[row * 2 + j], 1e-5f);
        Assert.True(e.Weight.RequiresGrad);
    }

    [Fact]
    public void AFrozenEmbeddingGetsNoGradientAndAFineTunedOneDoes()
    {
        foreach (bool freeze in new[] { true, false })
        {
            var model = new SequenceClassifier(new ClassifierConfig { Encoder = Encoder(), Classes = 2 }, new Rng(2));
            var found = Enumerable.Range(0, Vocab).Select(i => i % 2 == 0).ToArray();
            model.Encoder.Embedding!.LoadPretrained(Enumerable.Range(0, Vocab * Width).Select(i => i * 0.01f).ToArray(), found, freeze);
            Assert.Equal(!freeze, model.Encoder.Embedding.Weight.RequiresGrad);
            model.ZeroGrad();
            model.Step(Batch(), backward: true);
            bool anyGradient = model.Encoder.Embedding.Weight.Grad.ToArray().Any(v => v != 0f);
            Assert.Equal(!freeze, anyGradient);
            Assert.Contains(model.Head.Weight.Grad.ToArray(), v => v != 0f);   // the rest still trains
        }
    }
}
