using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;
using Recur.Training;

namespace Recur.Tests.Training;

/// <summary>
/// Gradient buckets (issue 16, item 5): a bucket's sum starts during the backward pass, once every parameter in it is
/// final, in reverse registration order; what leaves is the final gradient times the item count.
/// </summary>
public class GradientBucketsTests
{
    /// <summary>One rank that records every sum begun: its slice, a copy of what it held then, and whether a step was running.</summary>
    private sealed class Recorder : IGradientSynchronizer
    {
        public readonly List<(Memory<float> Slice, float[] Sent, bool InStep)> Begun = [];
        public bool InStep;
        public int Waits, Progresses;
        public int Rank => 0;
        public int Size => 1;
        public void Sum(Span<float> values) { }
        public void Sum(Span<double> values) { }
        public void BeginSum(Memory<float> values) => Begun.Add((values, values.ToArray(), InStep));
        public void Progress() => Progresses++;
        public void WaitAll() => Waits++;
    }

    private static SequenceClassifier Classifier() => new(new ClassifierConfig
    {
        Encoder = new EncoderConfig { VocabularySize = 9, EmbeddingDim = 5, HiddenSize = 7, Layers = 2 },
        Classes = 3,
    }, new Rng(21));

    private static SequenceBatch Batch() =>
        SequenceBatch.FromTokens([[1, 2, 3], [4, 5], [6, 7, 8, 1], [2]], [0, 1, 2, 3], [0, 1, 2, 0]);

    /// <summary>The gradient one plain step leaves (no buckets), on a fresh copy of the model.</summary>
    private static float[] PlainGradient<T>(ITrainable<T> model, T batch)
    {
        model.Model.ZeroGrad();
        model.Step(batch, backward: true);
        return model.Model.Parameters().SelectMany(p => p.Grad.Span.ToArray()).ToArray();
    }

    private static void Pass<T>(GradientBuckets buckets, Recorder sync, ITrainable<T> model, T batch, int count)
    {
        model.Model.ZeroGrad();
        model.StartEpoch(1); // no state carried from the previous pass: each pass is the plain step's twin
        buckets.Begin(count);
        sync.InStep = true;
        model.Step(batch, backward: true);
        sync.InStep = false;
        buckets.Finish();
    }

    [Fact]
    public void After_the_first_pass_every_bucket_of_a_classifier_starts_during_backward_in_reverse_registration_order()
    {
        var model = Classifier();
        var batch = Batch();
        var expected = PlainGradient(Classifier(), batch);
        var arena = new Adam(model.Parameters(), 0.01f).Arena!;
        var sync = new Recorder();
        using var buckets = new GradientBuckets(arena, sync, bucketBytes: 1); // one bucket per parameter
        Assert.Equal(arena.Parameters.Count, buckets.Count);

        // First pass: the counts are learned; every bucket starts in Finish.
        Pass(buckets, sync, model, batch, 4);
        Assert.Equal(buckets.Count, sync.Begun.Count);
        Assert.All(sync.Begun, b => Assert.False(b.InStep));
        Assert.Equal(1, sync.Waits);

        // Second pass: every bucket starts inside the step, last-registered parameter first, and the backward pass is
        // given chances to progress them.
        sync.Begun.Clear();
        Pass(buckets, sync, model, batch, 4);
        Assert.Equal(buckets.Count, sync.Begun.Count);
        Assert.All(sync.Begun, b => Assert.True(b.InStep));
        // A progress call at every hook point once a sum is under way: 11 parameters, the first hook (the head's weight,
        // waiting for its bias, registered after it) comes before any sum.
        Assert.Equal(buckets.Count - 1, sync.Progresses);
        int end = arena.Length;
        for (int k = 0; k < buckets.Count; k++)
        {
            var (start, length) = buckets.Slice(k);
            Assert.Equal(end, start + length); // contiguous, from the end of the arena down to its start
            Assert.Equal(arena.OffsetOf(arena.Parameters.Count - 1 - k), start);
            end = start;
        }
        Assert.Equal(0, end);

        // What left is final (nothing was added after its sum started) and weighted by the item count.
        var grads = arena.Grads.ToArray();
        var sent = Enumerable.Range(0, buckets.Count).OrderBy(k => buckets.Slice(k).Start).SelectMany(k => sync.Begun[k].Sent).ToArray();
        Assert.Equal(grads, sent);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(4 * expected[i], grads[i]);
    }

    [Fact]
    public void A_weight_tied_between_embedding_and_output_layer_leaves_only_after_both_contributions()
    {
        LanguageModel Lm() => new(new LanguageModelConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 11, EmbeddingDim = 6, HiddenSize = 6 },
            TieEmbeddings = true,
        }, new Rng(4));
        var tokens = Enumerable.Range(0, 200).Select(i => 1 + i * 7 % 10).ToArray();
        var chunk = new TbpttStream(tokens, 2, 5).Enumerate().Skip(1).First(); // not the first: no reset of the state
        var model = Lm();
        var expected = PlainGradient(Lm(), chunk);
        var arena = new Adam(model.Parameters(), 0.01f).Arena!;
        var sync = new Recorder();
        using var buckets = new GradientBuckets(arena, sync, bucketBytes: 1);
        Pass(buckets, sync, model, chunk, 10);
        sync.Begun.Clear();
        Pass(buckets, sync, model, chunk, 10);

        Assert.All(sync.Begun, b => Assert.True(b.InStep));
        // The shared matrix (registered first, as the embedding) leaves last, holding both layers' contributions.
        var (start, length) = buckets.Slice(buckets.Count - 1);
        Assert.Equal(0, start);
        Assert.Equal(arena.Parameters[0].Grad.Length, length);
        Assert.Equal(arena.Grads[..length].ToArray(), sync.Begun[^1].Sent);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(10 * expected[i], arena.Grads[i]);
    }

    [Fact]
    public void Buckets_close_at_the_byte_size_and_never_split_a_parameter()
    {
        var model = Classifier();
        var arena = new Adam(model.Parameters(), 0.01f).Arena!;
        using var one = new GradientBuckets(arena, new Recorder(), long.MaxValue);
        Assert.Equal(1, one.Count);
        Assert.Equal((0, arena.Length), one.Slice(0));
        using var some = new GradientBuckets(arena, new Recorder(), 1000);
        for (int k = 0; k < some.Count; k++)
        {
            var (start, length) = some.Slice(k);
            Assert.Contains(start, Enumerable.Range(0, arena.Parameters.Count).Select(arena.OffsetOf));
            // A bucket holds at least the byte size, unless it is the last (it ends at the arena's start).
            if (start > 0) Assert.True(length * 4 >= 1000, $"bucket {k}: {length * 4} bytes");
        }
    }
}
