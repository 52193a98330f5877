using Recur.Tensors;

namespace Recur.Data;

/// <summary>
/// Seeded batching of variable-length examples: shuffle, bucket by length (so a batch pads little), cut into
/// batches, shuffle the batch order. Users never sort or pack: models take padded batches with lengths.
/// </summary>
public static class Batching
{
    /// <summary>
    /// Batches of example indices. With <paramref name="rng"/> the order is shuffled (seeded); with
    /// <paramref name="bucket"/> examples are first grouped in pools of 50 batches and sorted by length inside each pool.
    /// </summary>
    public static List<int[]> Batches(IReadOnlyList<int> lengths, int batchSize, Rng? rng, bool bucket = true)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be >= 1");
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        rng?.Shuffle(order.AsSpan());
        if (bucket)
        {
            int pool = batchSize * 50;
            for (int start = 0; start < order.Length; start += pool)
            {
                int n = Math.Min(pool, order.Length - start);
                // Stable: ties keep their shuffled order.
                var sorted = order.AsSpan(start, n).ToArray().Select((idx, pos) => (idx, pos))
                    .OrderBy(p => lengths[p.idx]).ThenBy(p => p.pos).Select(p => p.idx).ToArray();
                sorted.CopyTo(order, start);
            }
        }
        var batches = new List<int[]>();
        for (int start = 0; start < order.Length; start += batchSize)
            batches.Add(order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray());
        if (rng is not null && bucket) rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batches));
        return batches;
    }

    /// <summary>
    /// Pads the selected token sequences into a batch-first (B, T) id array with T the longest selected length
    /// (at least 1), and returns the lengths.
    /// </summary>
    public static (int[] Ids, int[] Lengths, int Steps) PadTokens(IReadOnlyList<int[]> sequences, ReadOnlySpan<int> indices, int padId)
    {
        int b = indices.Length;
        int t = 1;
        foreach (int i in indices) t = Math.Max(t, sequences[i].Length);
        var ids = new int[b * t];
        if (padId != 0) Array.Fill(ids, padId);
        var lens = new int[b];
        for (int k = 0; k < b; k++)
        {
            var s = sequences[indices[k]];
            s.CopyTo(ids.AsSpan(k * t));
            lens[k] = s.Length;
        }
        return (ids, lens, t);
    }

    /// <summary>
    /// Pads the selected numeric sequences (each T_i * <paramref name="features"/> values, row-major) into a batch-first
    /// (B, T, F) tensor with T the longest selected length (at least 1), zeros past each length, every step
    /// standardised when <paramref name="standardizer"/> is given; returns the lengths too.
    /// </summary>
    public static (Tensor Features, int[] Lengths, int Steps) PadFeatures(IReadOnlyList<float[]> sequences, int features, ReadOnlySpan<int> indices, Standardizer? standardizer = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "features must be >= 1");
        if (indices.Length == 0) throw new ArgumentException("expected at least one sequence in a batch, found none", nameof(indices));
        if (standardizer is not null && standardizer.Columns != features)
            throw new ArgumentException($"the standardizer must have one column per feature (expected {features}, got {standardizer.Columns})", nameof(standardizer));
        int b = indices.Length, t = 1;
        var lens = new int[b];
        for (int k = 0; k < b; k++)
        {
            var s = sequences[indices[k]] ?? throw new ArgumentException($"sequence {indices[k]} is null", nameof(sequences));
            if (s.Length % features != 0)
                throw new ArgumentException($"sequence {indices[k]} must hold whole steps of {features} features, found {s.Length} values", nameof(sequences));
            lens[k] = s.Length / features;
            t = Math.Max(t, lens[k]);
        }
        var x = new Tensor(b, t, features);
        var span = x.Span;
        for (int k = 0; k < b; k++)
        {
            var s = sequences[indices[k]];
            var dst = span.Slice(k * t * features, s.Length);
            if (standardizer is null) s.CopyTo(dst);
            else for (int step = 0; step < lens[k]; step++) standardizer.Apply(s.AsSpan(step * features, features), dst.Slice(step * features, features));
        }
        return (x, lens, t);
    }

    /// <summary>
    /// A seeded split stratified by class: each class's examples are shuffled and split by the fraction on their own, so
    /// both parts keep the class proportions, and every class keeps at least one example in the first part (a class seen
    /// once is never held out, so it cannot depend on the seed whether the model knows it). Indices in each part are in
    /// ascending order.
    /// </summary>
    /// <param name="classes">The class of each example (any labels; compared as strings, ordinal).</param>
    /// <param name="firstFraction">Fraction of each class in the first part (the training part), in [0, 1].</param>
    /// <param name="rng">The seeded stream the shuffles draw from (classes in ordinal order).</param>
    public static (int[] First, int[] Second) StratifiedSplit(IReadOnlyList<string> classes, double firstFraction, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(classes);
        if (!(firstFraction >= 0 && firstFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(firstFraction), firstFraction, "fraction must be in [0, 1]");
        var first = new List<int>();
        var second = new List<int>();
        foreach (var group in Enumerable.Range(0, classes.Count).GroupBy(i => classes[i], StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var idx = group.ToArray();
            rng.Shuffle(idx.AsSpan());
            int held = (int)Math.Round(idx.Length * (1 - firstFraction));
            held = Math.Min(held, idx.Length - 1);   // at least one example of the class stays in the first part
            first.AddRange(idx[held..]);
            second.AddRange(idx[..held]);
        }
        first.Sort();
        second.Sort();
        return (first.ToArray(), second.ToArray());
    }

    /// <summary>A seeded split of n indices into a first part of the given fraction and the rest.</summary>
    public static (int[] First, int[] Second) Split(int n, double firstFraction, Rng rng)
    {
        if (!(firstFraction >= 0 && firstFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(firstFraction), firstFraction, "fraction must be in [0, 1]");
        var order = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(order.AsSpan());
        int k = (int)Math.Round(n * firstFraction);
        return (order[..k], order[k..]);
    }
}
