using System.Numerics.Tensors;
using Recur.Tensors;

namespace Recur.Training;

/// <summary>
/// Overlaps the data-parallel gradient sum with the backward pass, as PyTorch DDP's reducer does: the gradients are
/// cut into buckets of about <c>bucketBytes</c>, in reverse order of the parameters' registration (the order backward
/// finishes them), and a bucket's sum starts (<see cref="IGradientSynchronizer.BeginSum"/>) as soon as every
/// parameter in it is final, while the layers below still run their backward pass. Each rank weights its gradients by
/// its item count before they leave, as the one-sum path does.
/// </summary>
/// <remarks>
/// <para>A parameter is final when it has heard <see cref="Parameter.GradientAccumulated"/> as often as in a whole
/// backward pass: once for most, twice for a weight tied between an embedding and an output layer. Those counts are
/// learned from the first pass (whose buckets all start at its end, like DDP's first iteration); a later pass that adds
/// to a parameter whose bucket already left is a bug in a layer and stops training with an error.</para>
/// <para>Buckets start strictly in order (bucket k only after bucket k-1), so every rank issues the same collectives in
/// the same order whatever its layers' timing, and a rank with an empty shard (which runs no backward) starts them all
/// in <see cref="Finish"/>.</para>
/// </remarks>
public sealed class GradientBuckets : IDisposable
{
    private readonly ParameterArena arena;
    private readonly IGradientSynchronizer sync;
    private readonly (int Start, int Length)[] slices; // bucket k: arena gradient slice, in launch order
    private readonly int[] bucketOf, expected, heard, waiting;
    private readonly Action<Parameter>[] handlers;
    private int next = -1; // the next bucket to start; -1: no pass in progress
    private float weight;

    /// <summary>Cuts <paramref name="arena"/>'s gradients into buckets of about <paramref name="bucketBytes"/> and listens to its parameters.</summary>
    /// <param name="arena">The optimizer's parameters, in one intact arena.</param>
    /// <param name="sync">The ranks.</param>
    /// <param name="bucketBytes">Bytes of gradient per bucket (a bucket closes once it reaches this; a parameter is never split).</param>
    public GradientBuckets(ParameterArena arena, IGradientSynchronizer sync, long bucketBytes)
    {
        ArgumentNullException.ThrowIfNull(arena);
        ArgumentNullException.ThrowIfNull(sync);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketBytes);
        if (!arena.IsIntact) throw new ArgumentException("the arena must still hold all its parameters", nameof(arena));
        this.arena = arena;
        this.sync = sync;
        int n = arena.Parameters.Count;
        bucketOf = new int[n];
        expected = new int[n];
        heard = new int[n];
        var cuts = new List<(int Start, int Length)>();
        int end = arena.Length; // the current bucket covers [OffsetOf(i), end)
        for (int i = n - 1; i >= 0; i--)
        {
            int start = arena.OffsetOf(i);
            bucketOf[i] = cuts.Count;
            if (i == 0 || (long)(end - start) * sizeof(float) >= bucketBytes)
            {
                cuts.Add((start, end - start));
                end = start;
            }
        }
        slices = [.. cuts];
        waiting = new int[slices.Length];
        handlers = new Action<Parameter>[n];
        for (int i = 0; i < n; i++)
        {
            int index = i;
            handlers[i] = _ => Heard(index);
            arena.Parameters[i].GradientAccumulated += handlers[i];
        }
    }

    /// <summary>The number of buckets.</summary>
    public int Count => slices.Length;

    /// <summary>Bucket <paramref name="k"/>'s slice of the arena's gradients (start, length), in the order buckets start.</summary>
    public (int Start, int Length) Slice(int k) => slices[k];

    /// <summary>
    /// Starts a pass: the backward pass that follows weights this rank's gradients by <paramref name="itemCount"/> and
    /// starts each bucket's sum as soon as it is final.
    /// </summary>
    public void Begin(int itemCount)
    {
        if (next >= 0) throw new InvalidOperationException("Begin: the previous pass has not finished (call Finish)");
        ArgumentOutOfRangeException.ThrowIfNegative(itemCount);
        weight = itemCount;
        Array.Clear(heard);
        Array.Clear(waiting);
        for (int i = 0; i < bucketOf.Length; i++)
            waiting[bucketOf[i]]++;
        next = 0;
    }

    private void Heard(int i)
    {
        if (next < 0) return; // a backward pass outside training (a probe): nothing to sum
        if (bucketOf[i] < next)
            throw new InvalidOperationException(
                $"parameter '{arena.Parameters[i].Name}' received a gradient after its bucket's sum had started ({heard[i] + 1} contributions this pass, {expected[i]} in the first): its layers do not add to it the same number of times every pass; train with one gradient sum after backward (bucket size 0)");
        if (++heard[i] == expected[i] && --waiting[bucketOf[i]] == 0)
            while (next < slices.Length && waiting[next] == 0) Start(next++);
        if (next > 0) sync.Progress();
    }

    private void Start(int k)
    {
        var (start, length) = slices[k];
        var g = arena.GradsMemory.Slice(start, length);
        TensorPrimitives.Multiply(g.Span, weight, g.Span);
        sync.BeginSum(g);
    }

    /// <summary>
    /// Ends the pass: starts the buckets that have not started (all of them after the first pass, or on a rank that ran
    /// no backward), in order, and waits for every sum. The arena's gradients then hold the sum over the ranks of each
    /// rank's gradient times its item count.
    /// </summary>
    public void Finish()
    {
        if (next < 0) throw new InvalidOperationException("Finish without Begin");
        while (next < slices.Length) Start(next++);
        sync.WaitAll();
        for (int i = 0; i < expected.Length; i++)
            if (expected[i] == 0) expected[i] = heard[i];
        next = -1;
    }

    /// <summary>Stops listening to the parameters.</summary>
    public void Dispose()
    {
        for (int i = 0; i < handlers.Length; i++) arena.Parameters[i].GradientAccumulated -= handlers[i];
    }
}
