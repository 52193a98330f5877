using System.Collections.Concurrent;

namespace Recur.Kernels;

/// <summary>Recycles <see cref="PackedMatrix"/> instances (and their large buffers) across layer calls.</summary>
internal static unsafe class PackedPool
{
    private static readonly ConcurrentBag<PackedMatrix> Free = [];

    /// <summary>A packed copy of op(B), (k, n), from the stored matrix at <paramref name="b"/>.</summary>
    public static PackedMatrix Rent(SimdWidth width, Transpose trans, int k, int n, float* b, int ldb)
    {
        if (!Free.TryTake(out var m)) m = new PackedMatrix();
        m.PackFrom(width, trans, k, n, b, ldb);
        return m;
    }

    public static void Return(PackedMatrix m)
    {
        if (Free.Count < 32) Free.Add(m);
    }
}
