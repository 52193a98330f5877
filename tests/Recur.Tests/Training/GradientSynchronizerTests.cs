using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;
using Recur.Training;

namespace Recur.Tests.Training;

/// <summary>
/// The trainer's data-parallel seam without MPI: N trainers on N threads, each on its part of every batch, summing
/// through an in-memory synchronizer, end where one trainer on the whole batches ends (issue 16).
/// </summary>
public class GradientSynchronizerTests
{
    /// <summary>N ranks in one process: a sum copies each rank's span into its slot, waits for all, adds the slots in rank order.</summary>
    private sealed class ThreadRanks(int size)
    {
        private readonly Barrier barrier = new(size);
        private readonly double[][] slots = new double[size][];
        public int Sums;

        public IGradientSynchronizer Rank(int rank) => new Member(this, rank);

        private void Sum(int rank, Span<double> values)
        {
            slots[rank] = values.ToArray();
            barrier.SignalAndWait();
            for (int i = 0; i < values.Length; i++)
            {
                double s = 0;
                for (int r = 0; r < size; r++) s += slots[r][i];
                values[i] = s;
            }
            if (rank == 0) Interlocked.Increment(ref Sums);
            barrier.SignalAndWait();
        }

        private sealed class Member(ThreadRanks all, int rank) : IGradientSynchronizer
        {
            public int Rank => rank;
            public int Size => all.slots.Length;
            public void Sum(Span<double> values) => all.Sum(rank, values);
            public void Sum(Span<float> values)
            {
                var d = new double[values.Length];
                for (int i = 0; i < d.Length; i++) d[i] = values[i];
                all.Sum(rank, d);
                for (int i = 0; i < d.Length; i++) values[i] = (float)d[i];
            }
        }
    }

    private static SequenceClassifier Model() => new(new ClassifierConfig
    {
        Encoder = new EncoderConfig { VocabularySize = 9, EmbeddingDim = 5, HiddenSize = 7 },
        Classes = 3,
    }, new Rng(21));

    private static (List<int[]> X, int[] Y) Data()
    {
        var rng = new Rng(5);
        var x = new List<int[]>();
        var y = new int[43];
        for (int i = 0; i < y.Length; i++)
        {
            var seq = new int[1 + rng.NextInt(9)];
            for (int t = 0; t < seq.Length; t++) seq[t] = 1 + rng.NextInt(8);
            x.Add(seq);
            y[i] = seq[0] % 3;
        }
        return (x, y);
    }

    /// <summary>The batches of an epoch: fixed, of 8 (the last of 3), split between ranks as the CLI does; null = an empty part.</summary>
    private static IEnumerable<SequenceBatch> Batches(List<int[]> x, int[] y, int rank, int size)
    {
        for (int start = 0; start < x.Count; start += 8)
        {
            int n = Math.Min(8, x.Count - start);
            int lo = start + n * rank / size, hi = start + n * (rank + 1) / size;
            yield return hi == lo ? null! : SequenceBatch.FromTokens(x, Enumerable.Range(lo, hi - lo).ToArray(), y[lo..hi]);
        }
    }

    /// <summary>Empty parts (a null batch) add nothing, as the CLI's sharded model does.</summary>
    private sealed class Part(SequenceClassifier model) : ITrainable<SequenceBatch>
    {
        public Module Model => model;
        public int? ItemCount(SequenceBatch batch) => batch is null ? 0 : model.ItemCount(batch);
        public BatchLoss Step(SequenceBatch batch, bool backward) => batch is null ? new BatchLoss(0, 0) : model.Step(batch, backward);
    }

    [Theory]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(3, 1)] // gradient buckets of one parameter each, started during backward
    public void N_synchronized_trainers_end_where_one_trainer_on_the_whole_batches_ends(int size, long bucketBytes)
    {
        var (x, y) = Data();
        var options = new TrainerOptions { Epochs = 4, ClipNorm = 1f, KeepBest = false };
        var one = Model();
        var single = new Trainer<SequenceBatch>(new Adam(one.Parameters(), 0.01f), options).Fit(one, _ => Batches(x, y, 0, 1));

        var ranks = new ThreadRanks(size);
        var models = Enumerable.Range(0, size).Select(_ => Model()).ToArray();
        var results = new TrainingResult[size];
        var threads = Enumerable.Range(0, size).Select(r => new Thread(() =>
        {
            var trainer = new Trainer<SequenceBatch>(new Adam(models[r].Parameters(), 0.01f), options) { Synchronizer = ranks.Rank(r), BucketBytes = bucketBytes };
            results[r] = trainer.Fit(new Part(models[r]), _ => Batches(x, y, r, size));
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a rank did not finish");

        Assert.Equal(single.Steps, results[0].Steps);
        // Per step (6 batches x 4 epochs), the gradients in one sum or in one per parameter (7), then loss, count, cancel.
        Assert.Equal(24 * (bucketBytes > 0 ? 7 + 1 : 2), ranks.Sums);
        for (int e = 0; e < 4; e++) Assert.Equal(single.History[e].TrainLoss, results[0].History[e].TrainLoss, 1e-6);
        var expected = one.NamedParameters().ToList();
        for (int r = 0; r < size; r++)
        {
            var got = models[r].NamedParameters().ToList();
            for (int i = 0; i < expected.Count; i++)
            {
                var a = expected[i].Value.Value.Span.ToArray();
                var b = got[i].Value.Value.Span.ToArray();
                double diff = Math.Sqrt(a.Zip(b, (p, q) => Math.Pow(p - (double)q, 2)).Sum()), norm = Math.Sqrt(a.Sum(p => (double)p * p));
                Assert.True(diff <= 1e-6 * norm, $"rank {r}, {expected[i].Key}: ||a-b|| {diff:G3} over ||a|| {norm:G3}");
            }
            // The ranks agree with each other to the bit: each receives the same sums.
            Assert.Equal(models[0].Parameters().SelectMany(p => p.Value.Span.ToArray()), models[r].Parameters().SelectMany(p => p.Value.Span.ToArray()));
        }
    }

    [Fact]
    public void Gradient_accumulation_with_a_synchronizer_is_refused()
    {
        var ranks = new ThreadRanks(1);
        var model = Model();
        var trainer = new Trainer<SequenceBatch>(new Adam(model.Parameters(), 0.01f), new TrainerOptions { GradientAccumulation = 2 }) { Synchronizer = ranks.Rank(0) };
        var e = Assert.Throws<ArgumentException>(() => trainer.Fit(model, _ => []));
        Assert.Contains("GradientAccumulation 2 with a synchronizer", e.Message);
    }
}
