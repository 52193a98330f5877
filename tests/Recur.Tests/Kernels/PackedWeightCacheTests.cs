using System.Runtime.InteropServices;
using Recur.Kernels.Recurrent;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>
/// A recurrent layer keeps its packed weights across calls; they must never be served stale. Every way of changing a
/// weight in place (an optimizer step over the arena, <c>LoadStateDict</c>, a write through <c>Value.Span</c>, the indexer or a
/// reshaped view) must give
/// bitwise the results of a fresh layer holding the same weights, which has nothing cached. Sizes are above the
/// skinny-product threshold, so every packed form (W_ih^T, W_hh^T, W_hh, W_ih) is used.
/// </summary>
public class PackedWeightCacheTests
{
    private const int T = 5, B = 8, I = 7, H = 9;

    private static float[] Random(Rng rng, int n)
    {
        var a = new float[n];
        rng.FillUniform(a, -1f, 1f);
        return a;
    }

    /// <summary>Outputs, final states, input gradient and every parameter gradient of one forward and backward pass.</summary>
    private static byte[] Pass(Recurrent layer)
    {
        layer.ZeroGrad();
        var rng = new Rng(7);
        var x = Tensor.FromArray(Random(rng, T * B * I), T, B, I);
        using var r = layer.Forward(x, [5, 5, 4, 5, 3, 5, 5, 2]);
        var g = r.Backward(Tensor.FromArray(Random(rng, T * B * layer.OutputSize), T, B, layer.OutputSize));
        var all = new List<float>();
        all.AddRange(r.Output.ToArray());
        all.AddRange(r.HiddenState.ToArray());
        all.AddRange(g.Input.ToArray());
        foreach (var p in layer.Parameters()) all.AddRange(p.Grad.ToArray());
        return MemoryMarshal.AsBytes(all.ToArray().AsSpan()).ToArray();
    }

    /// <summary>A new layer (nothing packed yet) with copies of <paramref name="source"/>'s current weights.</summary>
    private static Recurrent Fresh(Recurrent source)
    {
        var fresh = new Recurrent(source.Mode, I, H, source.NumLayers, source.Bidirectional, rng: new Rng(99));
        fresh.LoadStateDict(source.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone()));
        return fresh;
    }

    [Theory]
    [InlineData(RecurrentMode.Lstm, 2, false)]
    [InlineData(RecurrentMode.Gru, 1, true)]
    [InlineData(RecurrentMode.RnnTanh, 1, false)]
    public void AnOptimizerStepIsSeenByTheNextCall(RecurrentMode mode, int layers, bool bidirectional)
    {
        var layer = new Recurrent(mode, I, H, layers, bidirectional, rng: new Rng(3));
        var optimizer = new Sgd(layer.Parameters(), 0.5f);
        byte[] before = Pass(layer);                        // packs every form
        optimizer.Step();                                   // writes the arena in place
        byte[] after = Pass(layer);
        Assert.NotEqual(before, after);                     // the step changed the weights enough to show
        Assert.Equal(Pass(Fresh(layer)), after);
    }

    [Fact]
    public void LoadStateDictIsSeenByTheNextCall()
    {
        var layer = new Recurrent(RecurrentMode.Lstm, I, H, 1, bidirectional: true, rng: new Rng(3));
        var other = new Recurrent(RecurrentMode.Lstm, I, H, 1, bidirectional: true, rng: new Rng(4));
        byte[] before = Pass(layer);
        byte[] expected = Pass(other);
        Assert.NotEqual(before, expected);
        layer.LoadStateDict(other.StateDict());
        Assert.Equal(expected, Pass(layer));
    }

    [Fact]
    public void AWriteThroughTheValueSpanIsSeenByTheNextCall()
    {
        var layer = new Recurrent(RecurrentMode.Lstm, I, H, rng: new Rng(3));
        byte[] before = Pass(layer);
        var whh = layer.StateDict()["weight_hh_l0"];
        whh.Span[5] += 0.75f;
        var wih = layer.StateDict()["weight_ih_l0"];
        wih[2, 3] = -1.5f;                                  // the indexer's setter
        byte[] after = Pass(layer);
        Assert.NotEqual(before, after);
        Assert.Equal(Pass(Fresh(layer)), after);

        whh.Reshape(whh.Length).Span[7] -= 0.5f;           // through a view of the same elements
        byte[] third = Pass(layer);
        Assert.NotEqual(after, third);
        Assert.Equal(Pass(Fresh(layer)), third);
    }

    /// <summary>The gate-interleaved W_hh of hidden-unit blocks and the forms batch-parallel blocks read are refreshed too.</summary>
    [Theory]
    [InlineData(RecurrentStepSchedule.HiddenBlocks)]
    [InlineData(RecurrentStepSchedule.BatchParallel)]
    public void EveryScheduleSeesAnOptimizerStepAndLoadStateDict(RecurrentStepSchedule schedule)
    {
        var engine = new RecurrentEngineOptions { Schedule = schedule };
        var layer = new Recurrent(RecurrentMode.Lstm, I, H, 2, bidirectional: true, rng: new Rng(3)) { Engine = engine };
        var optimizer = new Sgd(layer.Parameters(), 0.5f);
        byte[] before = Pass(layer);
        optimizer.Step();
        byte[] after = Pass(layer);
        Assert.NotEqual(before, after);
        Assert.Equal(Pass(Fresh(layer)), after);
        var other = new Recurrent(RecurrentMode.Lstm, I, H, 2, bidirectional: true, rng: new Rng(4)) { Engine = engine };
        byte[] expected = Pass(other);
        layer.LoadStateDict(other.StateDict());
        Assert.Equal(expected, Pass(layer));
    }

    [Fact]
    public void EachFormIsPackedOncePerWeightVersion()
    {
        var layer = new Recurrent(RecurrentMode.Lstm, I, H, 2, rng: new Rng(3));
        var optimizer = new Sgd(layer.Parameters(), 0.1f);
        Pass(layer);
        long first = layer.PackCount;
        Assert.Equal(2 * 4, first);                         // 2 passes x (W_ih^T, W_hh^T, W_hh, W_ih), nothing twice
        Pass(layer);
        Assert.Equal(first, layer.PackCount);               // unchanged weights: nothing repacked
        optimizer.Step();
        Pass(layer);
        Assert.Equal(first + 2 * 4, layer.PackCount);       // one training step: each form once, W_hh not twice
    }
}
