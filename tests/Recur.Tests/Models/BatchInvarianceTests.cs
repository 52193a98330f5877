using Recur.Kernels;
using Recur.Models;
using Recur.Tests.Support;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Models;

/// <summary>
/// `recur serve` gathers concurrent requests into one padded, length-sorted batch and promises each caller exactly
/// what a request on its own gives. These tests hold the engine to that: a row of a batched prediction is bitwise the
/// prediction of that sequence alone, across cells, directions, layers, poolings and batch sizes up to 64, in
/// <see cref="Gemm.BatchInvariant"/> mode (process-wide, so these run isolated from the other tests).
/// </summary>
[Collection(nameof(IsolatedCollection))]
public class BatchInvarianceTests
{
    private static T Invariant<T>(Func<T> body)
    {
        bool saved = Gemm.BatchInvariant;
        Gemm.BatchInvariant = true;
        try { return body(); }
        finally { Gemm.BatchInvariant = saved; }
    }

    private static List<int[]> Sequences(Rng rng, int count, int vocabulary, int maxLength) =>
        [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 1 + rng.NextInt(maxLength)).Select(_ => 1 + rng.NextInt(vocabulary - 1)).ToArray())];

    public static TheoryData<RecurrentMode, bool, int, Pooling, int> Cases() => new()
    {
        { RecurrentMode.Lstm, false, 1, Pooling.Last, 64 },
        { RecurrentMode.Lstm, true, 2, Pooling.Mean, 64 },
        { RecurrentMode.Gru, false, 2, Pooling.Max, 17 },
        { RecurrentMode.RnnTanh, true, 1, Pooling.Last, 5 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ClassifierBatchRowsAreBitwiseTheSingleSequencePredictions(RecurrentMode cell, bool bidirectional, int layers, Pooling pooling, int count) =>
        Invariant(() => ClassifierRows(cell, bidirectional, layers, pooling, count));

    private static int ClassifierRows(RecurrentMode cell, bool bidirectional, int layers, Pooling pooling, int count)
    {
        var rng = new Rng(7);
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 50, EmbeddingDim = 24, HiddenSize = 40, Cell = cell, Bidirectional = bidirectional, Layers = layers },
            Pooling = pooling, Classes = 3,
        }, rng);
        var x = Sequences(new Rng(11), count, 50, 70);
        using var mode = model.EvaluationMode();
        var batched = model.Predict(SequenceBatch.FromTokens(x, [.. Enumerable.Range(0, count)])).ToArray();
        for (int i = 0; i < count; i++)
        {
            var single = model.Predict(SequenceBatch.FromTokens(x, [i])).ToArray();
            for (int c = 0; c < 3; c++)
                Assert.True(BitConverter.SingleToInt32Bits(single[c]) == BitConverter.SingleToInt32Bits(batched[i * 3 + c]),
                    $"sequence {i} (length {x[i].Length}) class {c}: alone {single[c]:R}, in a batch of {count} {batched[i * 3 + c]:R}");
        }
        return count;
    }

    /// <summary>Without the mode, a lone sequence takes the skinny GEMM path and its bits differ: the reason the mode exists.</summary>
    [Fact]
    public void OutsideTheModeASingleSequenceTakesAnotherPath()
    {
        Assert.False(Gemm.BatchInvariant);
        Assert.ThrowsAny<Exception>(() => ClassifierRows(RecurrentMode.Lstm, false, 1, Pooling.Last, 64));
    }

    [Fact]
    public void TaggerBatchRowsAreBitwiseTheSingleSequencePredictions() => Invariant(TaggerRows);

    private static int TaggerRows()
    {
        var rng = new Rng(3);
        var model = new SequenceTagger(new TaggerConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 40, EmbeddingDim = 16, HiddenSize = 24, Bidirectional = true },
            Tags = 5,
        }, rng);
        var x = Sequences(new Rng(5), 33, 40, 30);
        using var mode = model.EvaluationMode();
        var batched = model.Predict(SequenceBatch.FromTokens(x, [.. Enumerable.Range(0, x.Count)]));
        int t = batched.Dim(1);
        for (int i = 0; i < x.Count; i++)
        {
            var single = model.Predict(SequenceBatch.FromTokens(x, [i])).ToArray();
            for (int s = 0; s < x[i].Length; s++)
                for (int k = 0; k < 5; k++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(single[s * 5 + k]), BitConverter.SingleToInt32Bits(batched.Span[(i * t + s) * 5 + k]));
        }
        return x.Count;
    }
}
