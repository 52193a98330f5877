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
