namespace Recur.Cli.Train;

/// <summary>
/// A model as one rank of a data-parallel run trains it: a null batch is an empty shard (the global batch had fewer
/// items than ranks) and adds nothing; the carried state (a language model's hidden state over its streams) is
/// gathered into the whole batch's state for checkpoints, so a checkpoint is the one a single process would write and
/// resumes with any number of ranks; each rank's dropout streams travel with it.
/// </summary>
/// <param name="inner">The model.</param>
/// <param name="sync">The ranks.</param>
/// <param name="streams">For a stateful model: this rank's rows (Lo, Count) of the Total parallel streams, on axis 1 of its state tensors.</param>
internal sealed class ShardedTrainable<TBatch>(ITrainable<TBatch> inner, IGradientSynchronizer sync, (int Lo, int Count, int Total)? streams = null)
    : ITrainable<TBatch>
{
    private const string RankStreams = "rank_random_streams";

    public Module Model => inner.Model;

    public BatchLoss Step(TBatch batch, bool backward)
    {
        if (backward && ++trained == faultAt) Fault();
        if (batch is null) return new BatchLoss(0, 0);
        if (!backward) return inner.Step(batch, backward);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        var loss = inner.Step(batch, backward);
        DataParallel.AddStepTime(System.Diagnostics.Stopwatch.GetTimestamp() - start);
        return loss;
    }

    // Fault injection for tests, per rank (mpirun's MPMD form gives one rank its own environment):
    // RECUR_FAULT_RANK_KILL_AT_BATCH=N kills this rank (SIGKILL) at its N-th training batch;
    // RECUR_FAULT_RANK_HANG_AT_BATCH=N makes it stop responding there, as a rank whose node hangs.
    private long trained;
    private readonly long faultAt = long.TryParse(Environment.GetEnvironmentVariable("RECUR_FAULT_RANK_KILL_AT_BATCH"), out long k) && k > 0 ? k
        : long.TryParse(Environment.GetEnvironmentVariable("RECUR_FAULT_RANK_HANG_AT_BATCH"), out long h) && h > 0 ? h : -1;

    private static void Fault()
    {
        if (Environment.GetEnvironmentVariable("RECUR_FAULT_RANK_KILL_AT_BATCH") is not null)
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        Thread.Sleep(Timeout.Infinite);
    }

    public int? ItemCount(TBatch batch) => batch is null ? 0 : inner.ItemCount(batch);

    public void StartEpoch(int epoch) => inner.StartEpoch(epoch);

    public IReadOnlyDictionary<string, Tensor> CaptureState()
    {
        var state = new Dictionary<string, Tensor>();
        var mine = inner.CaptureState();
        // Whether any rank carries a state (all do, or none: they step in lockstep).
        Span<double> any = [mine.Count];
        sync.Sum(any);
        if (any[0] > 0)
        {
            var (lo, count, total) = streams ?? throw new InvalidOperationException("a model that carries state needs its stream rows to be gathered");
            foreach (var name in new[] { "hidden", "cell" })
            {
                if (!mine.TryGetValue(name, out var t)) continue;
                var shape = t.Shape.ToArray();
                int layers = shape[0], width = shape[2];
                var whole = new float[layers * total * width];
                var src = t.Span;
                for (int l = 0; l < layers; l++)
                    src.Slice(l * count * width, count * width).CopyTo(whole.AsSpan((l * total + lo) * width, count * width));
                sync.Sum(whole); // the other ranks' rows are zeros here: the sum is a gather, exact
                state[name] = Tensor.FromArray(whole, layers, total, width);
            }
        }
        // Every rank's random streams (dropout), as 16-bit pieces in floats (exact, and summed exactly as a gather).
        var rngs = inner.Model.NamedRngs().Select(kv => kv.Value.GetState()).ToList();
        int words = rngs.Sum(w => w.Length), pieces = words * 4;
        var all = new float[sync.Size * pieces];
        int at = sync.Rank * pieces;
        foreach (var w in rngs)
            foreach (ulong word in w)
                for (int k = 0; k < 4; k++) all[at++] = (word >> (16 * k)) & 0xFFFF;
        sync.Sum(all);
        state[RankStreams] = Tensor.FromArray(all, sync.Size, pieces);
        return state;
    }

    public void RestoreState(IReadOnlyDictionary<string, Tensor> state)
    {
        var mine = new Dictionary<string, Tensor>();
        if (streams is var (lo, count, total))
            foreach (var name in new[] { "hidden", "cell" })
            {
                if (!state.TryGetValue(name, out var t)) continue;
                var shape = t.Shape.ToArray();
                if (shape.Length != 3 || shape[1] != total)
                    throw new RecurFormatException("checkpoint", name, $"expected the state of {total} parallel streams, found shape ({string.Join(", ", shape)})");
                int layers = shape[0], width = shape[2];
                var part = new float[layers * count * width];
                for (int l = 0; l < layers; l++)
                    t.Span.Slice((l * total + lo) * width, count * width).CopyTo(part.AsSpan(l * count * width));
                mine[name] = Tensor.FromArray(part, layers, count, width);
            }
        inner.RestoreState(mine);
        // This rank's dropout streams, when the checkpoint has them (a run with at least as many ranks); otherwise they
        // keep the ones SeedRankStreams gave (rank 0: the run's own streams, restored from the checkpoint).
        if (state.TryGetValue(RankStreams, out var r) && r.Shape[0] > sync.Rank)
        {
            int pieces = r.Shape[1];
            var span = r.Span.Slice(sync.Rank * pieces, pieces);
            int at = 0;
            foreach (var (_, rng) in inner.Model.NamedRngs())
            {
                int n = rng.GetState().Length;
                if (at + n * 4 > pieces) break;
                var w = new ulong[n];
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < 4; k++) w[i] |= (ulong)span[at++] << (16 * k);
                rng.SetState(w);
            }
        }
    }
}
