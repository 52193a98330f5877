namespace Recur.Kernels.Recurrent;

/// <summary>
/// A batch of variable-length sequences sorted by length, longest first (stable: equal lengths keep their order), as
/// PyTorch's packing does. The rows still running at step t are then the prefix [0, <see cref="Active"/>[t]), and the
/// engine works time-major on sorted rows; <c>Gather</c> and <c>Scatter</c> convert from and to the caller's layout.
/// Shapes use B batch, T time, F features, L*D layers times directions, H hidden.
/// </summary>
internal sealed class SortedBatch
{
    /// <summary>Sorts <paramref name="lengths"/> (original batch order, each in [0, <paramref name="steps"/>]).</summary>
    public SortedBatch(int[] lengths, int steps)
    {
        Steps = steps;
        Batch = lengths.Length;
        int B = Batch;
        Perm = new int[B];
        for (int b = 0; b < B; b++) Perm[b] = b;
        // Sort by length, longest first, so the rows running at any step are a prefix.
        var keys = new int[B];
        for (int b = 0; b < B; b++) keys[b] = -lengths[b];
        Array.Sort(keys, Perm);
        StableFix(Perm, lengths);
        SortedLengths = new int[B];
        for (int s = 0; s < B; s++) SortedLengths[s] = lengths[Perm[s]];
        Active = new int[steps];
        for (int t = 0; t < steps; t++)
        {
            int m = 0;
            while (m < B && SortedLengths[m] > t) m++;
            Active[t] = m;
        }
    }

    /// <summary>T.</summary>
    public int Steps { get; }
    /// <summary>B.</summary>
    public int Batch { get; }
    /// <summary>(B): sorted position -> original batch index.</summary>
    public int[] Perm { get; }
    /// <summary>(B): lengths by sorted position, non-increasing.</summary>
    public int[] SortedLengths { get; }
    /// <summary>(T): rows running at step t, non-increasing in t.</summary>
    public int[] Active { get; }

    /// <summary>Array.Sort is not stable; restore original order among equal lengths (determinism, readability).</summary>
    private static void StableFix(int[] perm, int[] lengths)
    {
        int i = 0;
        while (i < perm.Length)
        {
            int j = i;
            while (j + 1 < perm.Length && lengths[perm[j + 1]] == lengths[perm[i]]) j++;
            Array.Sort(perm, i, j - i + 1);
            i = j + 1;
        }
    }

    /// <summary>(T, B, F) or (B, T, F) in original order into (T*B, F) time-major sorted rows, zero past each length.</summary>
    public void GatherSequence(ReadOnlySpan<float> src, bool batchFirst, int features, Span<float> dst)
    {
        int T = Steps, B = Batch;
        for (int t = 0; t < T; t++)
            for (int s = 0; s < B; s++)
            {
                var d = dst.Slice((t * B + s) * features, features);
                int b = Perm[s];
                if (t >= SortedLengths[s]) { d.Clear(); continue; }
                int row = batchFirst ? b * T + t : t * B + b;
                src.Slice(row * features, features).CopyTo(d);
            }
    }

    /// <summary>Inverse of <see cref="GatherSequence"/> (rows past each length are zero in the source).</summary>
    public void ScatterSequence(ReadOnlySpan<float> src, int features, bool batchFirst, Span<float> dst)
    {
        int T = Steps, B = Batch;
        for (int t = 0; t < T; t++)
            for (int s = 0; s < B; s++)
            {
                int b = Perm[s];
                int row = batchFirst ? b * T + t : t * B + b;
                src.Slice((t * B + s) * features, features).CopyTo(dst.Slice(row * features, features));
            }
    }

    /// <summary>(K, B, H) in original batch order into sorted order, for K = L*D stacked states.</summary>
    public void GatherStates(ReadOnlySpan<float> src, int stacks, int hidden, Span<float> dst)
    {
        int B = Batch, H = hidden;
        for (int k = 0; k < stacks; k++)
            for (int s = 0; s < B; s++)
                src.Slice((k * B + Perm[s]) * H, H).CopyTo(dst.Slice((k * B + s) * H, H));
    }

    /// <summary>Inverse of <see cref="GatherStates"/>.</summary>
    public void ScatterStates(ReadOnlySpan<float> src, int stacks, int hidden, Span<float> dst)
    {
        int B = Batch, H = hidden;
        for (int k = 0; k < stacks; k++)
            for (int s = 0; s < B; s++)
                src.Slice((k * B + s) * H, H).CopyTo(dst.Slice((k * B + Perm[s]) * H, H));
    }
}
