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

/// <summary>Aligned rentals start on a cache line (64 bytes), so the engine's gate and state rows do not split lines.</summary>
[Collection(nameof(IsolatedCollection))]
public class PinnedPoolAlignmentTests
{
    [Fact]
    public unsafe void AnAlignedRentalStartsOnA64ByteBoundaryAndHoldsTheLengthAskedFor()
    {
        var held = new List<float[]>();
        try
        {
            foreach (long length in new long[] { 1, 3, 15, 16, 17, 63, 64, 65, 1000, 4096, 6400 * 1536 + 7 })
                for (int repeat = 0; repeat < 3; repeat++)
                {
                    float[] a = PinnedPool.RentAligned(length, out int offset);
                    held.Add(a);
                    Assert.InRange(offset, 0, 15);
                    Assert.True(a.Length - offset >= length, $"length {length}: {a.Length} floats from offset {offset}");
                    long address = (long)(PinnedPool.Address(a) + offset);
                    Assert.True(address % 64 == 0, $"length {length}: element {offset} lies at {address % 64} bytes past a cache line");
                }
        }
        finally
        {
            foreach (var a in held) PinnedPool.Return(a);
        }
    }

    [Fact]
    public unsafe void ARecurrentLayersResultsStartOnA64ByteBoundary()
    {
        var layer = new Recurrent(RecurrentMode.Lstm, 8, 16, 2, rng: new Rng(3));
        for (int i = 0; i < 4; i++)
        {
            using var r = layer.Forward(new Tensor(5, 3 + i, 8));
            fixed (float* y = r.Output.Span, h = r.HiddenState.Span, c = r.CellState!.Span)
            {
                Assert.True((long)y % 64 == 0, $"output at {(long)y % 64} bytes past a cache line");
                Assert.True((long)h % 64 == 0, $"h_n at {(long)h % 64} bytes past a cache line");
                Assert.True((long)c % 64 == 0, $"c_n at {(long)c % 64} bytes past a cache line");
            }
        }
    }
}
