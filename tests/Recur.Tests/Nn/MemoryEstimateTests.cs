using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Nn;

/// <summary>The memory estimate that lets `recur train` refuse a size before allocating it.</summary>
public class MemoryEstimateTests
{
    [Theory]
    [InlineData(RecurrentMode.Lstm, 7, 5, 2, true)]
    [InlineData(RecurrentMode.Gru, 3, 9, 3, false)]
    [InlineData(RecurrentMode.RnnTanh, 4, 4, 1, true)]
    public void Parameter_bytes_are_the_layers_parameters_and_gradients(RecurrentMode mode, int input, int hidden, int layers, bool bi)
    {
        var layer = new Recurrent(mode, input, hidden, layers, bi, rng: new Rng(1));
        long floats = layer.Parameters().Sum(p => (long)p.Value.Length);
        var e = MemoryEstimate.ForRecurrent(mode, input, hidden, layers, bi, steps: 10, batch: 3, optimizerMoments: 2);
        Assert.Equal(floats * 4 * 2, e.ParameterBytes);
        Assert.Equal(floats * 4 * 2, e.OptimizerBytes);
    }

    [Fact]
    public void Activations_grow_with_steps_and_batch_and_sizes_that_cannot_exist_saturate()
    {
        var small = MemoryEstimate.ForRecurrent(RecurrentMode.Lstm, 32, 64, 2, true, steps: 10, batch: 8);
        var longer = MemoryEstimate.ForRecurrent(RecurrentMode.Lstm, 32, 64, 2, true, steps: 20, batch: 8);
        Assert.True(longer.ActivationBytes > small.ActivationBytes * 19 / 10);
        Assert.Equal(small.ParameterBytes, longer.ParameterBytes);
        // At least the gates of every layer and direction: 4H floats per row, 2 layers x 2 directions.
        Assert.True(small.ActivationBytes >= 10L * 8 * 4 * 64 * 4 * 4);
        var absurd = MemoryEstimate.ForRecurrent(RecurrentMode.Lstm, 128, 1 << 20, 1_000_000, true, 100_000, 1 << 20);
        Assert.Equal(long.MaxValue, absurd.TotalBytes);
        Assert.Equal("1.5 GB", MemoryEstimate.Format(3L << 29));
    }
}
