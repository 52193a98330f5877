using Recur.Kernels;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>The pool's in-use and peak counters (the benchmark's train_peak_mb) follow rent and return.</summary>
[Collection(nameof(IsolatedCollection))]
public class PooledMemoryTests
{
    [Fact]
    public void InUseRisesWhileAResultLivesAndFallsBackWhenItIsDisposed()
    {
        var layer = new Recurrent(RecurrentMode.Lstm, 8, 16, 2, rng: new Rng(1));
        var x = new Tensor(5, 3, 8);
        long before = PooledMemory.InUseBytes;
        PooledMemory.ResetPeak();
        Assert.Equal(before, PooledMemory.PeakInUseBytes);
        var r = layer.Forward(x);
        long during = PooledMemory.InUseBytes;
        // At least the output (5*3*16), the states and every layer's gates (5*3*64 each) are held.
        Assert.True(during - before >= 4L * (5 * 3 * 16 + 2 * 5 * 3 * 64), $"in use grew by {during - before} bytes");
        r.Backward(null);
        Assert.True(PooledMemory.PeakInUseBytes >= during);
        r.Dispose();
        Assert.Equal(before, PooledMemory.InUseBytes);
        Assert.True(PooledMemory.PeakInUseBytes > before);
    }
}

/// <summary>The pool's size classes: four per power of two, so a buffer wastes at most a quarter.</summary>
[Collection(nameof(IsolatedCollection))]
public class PinnedPoolSizeClassTests
{
    [Fact]
    public void EveryLengthGetsAClassAtMostAQuarterLargerAndClassesRoundTrip()
    {
        var lengths = Enumerable.Range(1, 5000).Select(i => (long)i)
            .Concat(Enumerable.Range(7, 24).SelectMany(k => new[] { (1L << k) - 1, 1L << k, (1L << k) + 1, 5L << (k - 2), (5L << (k - 2)) + 1 }))
            .Append(6400L * 1536).Append(Array.MaxLength);
        foreach (long n in lengths)
        {
            int c = PinnedPool.SizeClass(n);
            long size = PinnedPool.ClassSize(c);
            Assert.True(size >= n, $"class {c} of {n} floats holds only {size}");
            Assert.True(size <= Math.Max(64, n + n / 4), $"class {c} of {n} floats is {size}, more than a quarter larger");
            Assert.True(c == 0 || PinnedPool.ClassSize(c - 1) < n, $"{n} floats would fit the smaller class {c - 1}");
            Assert.Equal(c, PinnedPool.SizeClass(size));
        }
        // The GRU benchmark row's gates (T*B = 6400 rows of 3H = 1536): 10.5 M floats, not the 16.8 M of a power of two.
        Assert.Equal(10_485_760, PinnedPool.ClassSize(PinnedPool.SizeClass(6400L * 1536)));
    }

    [Fact]
    public void ReturnedArraysAreReusedAndForeignOnesIgnored()
    {
        var a = PinnedPool.Rent(1000);
        Assert.Equal(1024, a.Length);
        PinnedPool.Return(a);
        PinnedPool.Return(new float[1000]);   // not a class size: ignored, never handed out
        var b = PinnedPool.Rent(900);
        Assert.Equal(1024, b.Length);
        PinnedPool.Return(b);
    }
}
