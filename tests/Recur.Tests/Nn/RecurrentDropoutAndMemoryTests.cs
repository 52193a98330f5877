using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Support;

namespace Recur.Tests.Nn;

public class RecurrentDropoutAndMemoryTests
{
    [Fact]
    public void DropoutBetweenLayersIsActiveOnlyInTrainingAndBackpropagatesThroughTheMask()
    {
        int T = 4, B = 3, I = 3, H = 5;
        var stacked = new Lstm(I, H, numLayers: 2, dropout: 0.4f, rng: new Rng(1));
        var rng = new Rng(2);
        var x = Tensor.FromArray(RecurrentTests.RandomArray(rng, T * B * I), T, B, I);
        var dy = Tensor.FromArray(RecurrentTests.RandomArray(rng, T * B * H), T, B, H);

        // Evaluation mode: no dropout, same as the layers run one after the other.
        var first = new Lstm(I, H, rng: new Rng(10));
        var second = new Lstm(H, H, rng: new Rng(11));
        first.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight_ih_l0"] = stacked.StateDict()["weight_ih_l0"], ["weight_hh_l0"] = stacked.StateDict()["weight_hh_l0"],
            ["bias_ih_l0"] = stacked.StateDict()["bias_ih_l0"], ["bias_hh_l0"] = stacked.StateDict()["bias_hh_l0"],
        });
        second.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight_ih_l0"] = stacked.StateDict()["weight_ih_l1"], ["weight_hh_l0"] = stacked.StateDict()["weight_hh_l1"],
            ["bias_ih_l0"] = stacked.StateDict()["bias_ih_l1"], ["bias_hh_l0"] = stacked.StateDict()["bias_hh_l1"],
        });
        stacked.Training = false;
        using (var eval = stacked.Forward(x))
        using (var y1 = first.Forward(x))
        using (var y2 = second.Forward(y1.Output))
            Assert.Equal(y2.Output.ToArray(), eval.Output.ToArray());

        // Training mode: layer 1 reads layer 0's output times the mask; gradients flow back through the same mask.
        stacked.Training = true;
        using var train = stacked.Forward(x);
        var mask = train.DropoutMaskSorted(0)!; // no lengths given: sorted order is the identity
        Assert.Contains(0f, mask);
        Assert.Contains(1f / 0.6f, mask);
        stacked.ZeroGrad();
        var g = train.Backward(dy);

        using var a = first.Forward(x);
        var dropped = a.Output.Clone();
        TensorPrimitives.Multiply(dropped.Span, mask, dropped.Span);
        using var b = second.Forward(dropped);
        var report = new Compare.Report(1e-6);
        report.Check("y", train.Output.Span, b.Output.ToArray().Select(v => (double)v).ToArray());
        var gb = b.Backward(dy);
        var dIn = gb.Input.Clone();
        TensorPrimitives.Multiply(dIn.Span, mask, dIn.Span);
        var ga = a.Backward(dIn);
        report.Check("dx", g.Input.Span, ga.Input.ToArray().Select(v => (double)v).ToArray());
        report.Check("dW_ih_l1", stacked.StateDictGrad("weight_ih_l1"), second.Parameters().First().Grad.ToArray().Select(v => (double)v).ToArray());
        report.Check("dW_ih_l0", stacked.StateDictGrad("weight_ih_l0"), first.Parameters().First().Grad.ToArray().Select(v => (double)v).ToArray());
        report.AssertAll();
    }

}

/// <summary>Measures process-wide allocation, so it runs alone.</summary>
[Collection(nameof(IsolatedCollection))]
public class RecurrentAllocationTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    public void NothingIsAllocatedPerTimeStep(int projSize)
    {
        // Allocation must not grow with T beyond the result tensors, whose sizes are known (also with a projection).
        var layer = new Lstm(32, 48, numLayers: 2, bidirectional: true, rng: new Rng(1), projSize: projSize);
        int B = 8, outputs = layer.OutputSize;
        long Allocated(int T)
        {
            var x = new Tensor(T, B, 32);
            var dy = new Tensor(T, B, outputs);
            int[] lens = Enumerable.Range(0, B).Select(b => T - b % 3).ToArray();
            for (int warm = 0; warm < 2; warm++)
            {
                using var w = layer.Forward(x, lens);
                w.Backward(dy);
            }
            long before = GC.GetTotalAllocatedBytes(precise: true);
            using (var r = layer.Forward(x, lens)) r.Backward(dy);
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }
        long shortRun = Allocated(10), longRun = Allocated(40);
        // Per extra step: Output (B*outputs floats) and dInput (B*32 floats), plus 4 bytes of the per-call active-row table.
        long perStepResults = 30L * (B * outputs + B * 32) * sizeof(float) + 30L * sizeof(int);
        long slack = 30L * 8; // well under one object per step
        Assert.True(longRun - shortRun <= perStepResults + slack,
            $"T=40 allocated {longRun} bytes, T=10 {shortRun}: {longRun - shortRun - perStepResults} bytes more than the larger results explain");
    }
}

public class RecurrentVariationalDropoutTests
{
    public static TheoryData<RecurrentMode> Modes() => [RecurrentMode.Lstm, RecurrentMode.Gru, RecurrentMode.RnnTanh];

    [Theory]
    [MemberData(nameof(Modes))]
    public void OneMaskPerSequenceMultipliesTheRecurrentInputAndMatchesTheTwin(RecurrentMode mode)
    {
        var c = new RecurrentTests.Config(mode, 2, true, true, false, true, true, T: 5, B: 6, I: 3, H: 4);
        var layer = new Recurrent(mode, c.I, c.H, c.Layers, c.Bidirectional, rng: new Rng(1), recurrentDropout: 0.5f);
        var reference = new Reference.RecurrentReference(mode, c.I, c.H, c.Layers, c.Bidirectional, true);
        foreach (var (name, p) in layer.NamedParameters()) reference.Params[name] = p.Value.ToArray().Select(v => (double)v).ToArray();
        var rng = new Rng(2);
        int[] lens = RecurrentTests.Lengths(c);
        int LD = c.Layers * 2;
        float[] x = RecurrentTests.RandomArray(rng, c.T * c.B * c.I), h0 = RecurrentTests.RandomArray(rng, LD * c.B * c.H);
        float[]? c0 = mode == RecurrentMode.Lstm ? RecurrentTests.RandomArray(rng, LD * c.B * c.H) : null;
        float[] dy = RecurrentTests.RandomArray(rng, c.T * c.B * 2 * c.H), dhn = RecurrentTests.RandomArray(rng, LD * c.B * c.H);
        using var r = layer.Forward(Tensor.FromArray(x, c.T, c.B, c.I), lens, Tensor.FromArray(h0, LD, c.B, c.H), c0 is null ? null : Tensor.FromArray(c0, LD, c.B, c.H));
        var g = r.Backward(Tensor.FromArray(dy, c.T, c.B, 2 * c.H), Tensor.FromArray(dhn, LD, c.B, c.H));

        var masks = new double[LD][];
        for (int l = 0; l < c.Layers; l++)
            for (int d = 0; d < 2; d++)
            {
                var m = r.RecurrentMaskOriginal(l, d)!;
                Assert.All(m, v => Assert.True(v == 0f || v == 2f, $"mask values are 0 or 1/(1-p), got {v}"));
                masks[l * 2 + d] = m.Select(v => (double)v).ToArray();
            }
        Assert.InRange(masks.SelectMany(m => m).Count(v => v == 0) / (double)masks.Sum(m => m.Length), 0.3, 0.7);
        reference.RecurrentMasks = masks;
        double[] D(float[] a) => a.Select(v => (double)v).ToArray();
        var fwd = reference.Forward(D(x), c.T, c.B, lens, D(h0), c0 is null ? null : D(c0));
        var bwd = reference.Backward(fwd, c.T, c.B, lens, D(dy), D(dhn), null);
        var report = new Support.Compare.Report(2e-5);
        report.Check("y", r.Output.Span, fwd.Y);
        report.Check("h_n", r.HiddenState.Span, fwd.Hn);
        report.Check("dx", g.Input.Span, bwd.X);
        report.Check("dh0", g.HiddenState.Span, bwd.H0);
        foreach (var (name, p) in layer.NamedParameters()) report.Check($"d{name}", p.Grad.Span, bwd.Params[name]);
        report.AssertAll();

        // The masked twin is itself right: central differences in float64.
        double Loss()
        {
            var f = reference.Forward(D(x), c.T, c.B, lens, D(h0), c0 is null ? null : D(c0));
            return f.Y.Zip(D(dy), (a, b) => a * b).Sum() + f.Hn.Zip(D(dhn), (a, b) => a * b).Sum();
        }
        var fd = new Support.Compare.Report(1e-7);
        fd.Check("dW_hh_l0 vs finite differences", bwd.Params["weight_hh_l0"], Support.FiniteDifferences.Gradient(reference.Params["weight_hh_l0"], Loss));
        fd.AssertAll();

        // In evaluation mode there is no mask.
        layer.Training = false;
        using var e = layer.Forward(Tensor.FromArray(x, c.T, c.B, c.I), lens);
        Assert.Null(e.RecurrentMaskOriginal(0, 0));
    }
}

public class GradientFlowTests
{
    [Theory]
    [InlineData(RecurrentMode.RnnTanh)]
    [InlineData(RecurrentMode.Lstm)]
    public void ReportsTheNormOfDLossDHAtEveryStepAsTheTwinComputesIt(RecurrentMode mode)
    {
        var c = new RecurrentTests.Config(mode, 1, false, true, false, false, true, T: 7, B: 5, I: 3, H: 6);
        var (layer, reference) = RecurrentTests.Build(c, 3);
        var rng = new Rng(4);
        int[] lens = RecurrentTests.Lengths(c);
        float[] x = RecurrentTests.RandomArray(rng, c.T * c.B * c.I), dy = RecurrentTests.RandomArray(rng, c.T * c.B * c.H);
        var recorder = new GradientFlowRecorder();
        using var r = layer.Forward(Tensor.FromArray(x, c.T, c.B, c.I), lens);
        var withObserver = r.Backward(Tensor.FromArray(dy, c.T, c.B, c.H), gradientFlow: recorder).Input.ToArray();
        var flow = recorder.Flow()!;
        double[] D(float[] a) => a.Select(v => (double)v).ToArray();
        var squares = new double[c.T];
        var fwd = reference.Forward(D(x), c.T, c.B, lens, null, null);
        reference.Backward(fwd, c.T, c.B, lens, D(dy), null, null, squares);
        Assert.Equal(c.T, flow.Length);
        for (int t = 0; t < c.T; t++) Assert.Equal(Math.Sqrt(squares[t]), flow[t], 4);
        Assert.Null(recorder.Flow(1, 0));

        // Observing changes nothing else: the same pass without an observer gives bit-identical gradients, and the
        // observer saw nothing of it; the layer keeps no record.
        var again = new GradientFlowRecorder();
        again.Observe(0, 0, [42.0]);
        using var r2 = layer.Forward(Tensor.FromArray(x, c.T, c.B, c.I), lens);
        Assert.Equal(withObserver, r2.Backward(Tensor.FromArray(dy, c.T, c.B, c.H)).Input.ToArray());
        Assert.Equal([42.0], again.Flow()!);
    }

    [Fact]
    public void AnObserverPassedToACallSeesEveryLayerAndDirectionOfThatCallOnly()
    {
        var c = new RecurrentTests.Config(RecurrentMode.Gru, 2, true, true, false, false, true, T: 6, B: 4, I: 3, H: 5);
        var (layer, reference) = RecurrentTests.Build(c, 9);
        var rng = new Rng(5);
        int[] lens = RecurrentTests.Lengths(c);
        float[] x = RecurrentTests.RandomArray(rng, c.T * c.B * c.I), dy = RecurrentTests.RandomArray(rng, c.T * c.B * 2 * c.H);
        var recorder = new GradientFlowRecorder();
        var seen = new List<(int Layer, int Direction)>();
        using (var r = layer.Forward(Tensor.FromArray(x, c.T, c.B, c.I), lens))
            r.Backward(Tensor.FromArray(dy, c.T, c.B, 2 * c.H), gradientFlow: new Both(recorder, new Probe(seen)));
        Assert.Equal([(0, 0), (0, 1), (1, 0), (1, 1)], seen);
        double[] D(float[] a) => a.Select(v => (double)v).ToArray();
        var squares = new double[c.T];
        var fwd = reference.Forward(D(x), c.T, c.B, lens, null, null);
        reference.Backward(fwd, c.T, c.B, lens, D(dy), null, null, squares);
        for (int t = 0; t < c.T; t++) Assert.Equal(Math.Sqrt(squares[t]), recorder.Flow(0, 0)![t], 4);

        // A second observer on a second identical call gets the same curves of every layer and direction.
        var second = new GradientFlowRecorder();
        using (var r = layer.Forward(Tensor.FromArray(x, c.T, c.B, c.I), lens))
            r.Backward(Tensor.FromArray(dy, c.T, c.B, 2 * c.H), gradientFlow: second);
        for (int l = 0; l < 2; l++)
            for (int d = 0; d < 2; d++)
            {
                Assert.Equal(second.Flow(l, d), recorder.Flow(l, d));
                Assert.Equal(c.T, recorder.Flow(l, d)!.Length);
                Assert.All(recorder.Flow(l, d)!, v => Assert.True(double.IsFinite(v) && v >= 0));
            }
        Assert.Contains(recorder.Flow(1, 1)!, v => v > 0);
        Assert.Equal([(0, 0), (0, 1), (1, 0), (1, 1)], seen);

        // A call without an observer reports to no earlier one: nothing stays on the layer.
        seen.Clear();
        var before = recorder.Flow(0, 0);
        using var r2 = layer.Forward(Tensor.FromArray(x, c.T, c.B, c.I), lens);
        r2.Backward(Tensor.FromArray(dy, c.T, c.B, 2 * c.H));
        Assert.Empty(seen);
        Assert.Same(before, recorder.Flow(0, 0));
    }

    private sealed class Both(IGradientFlowObserver first, IGradientFlowObserver second) : IGradientFlowObserver
    {
        public void Observe(int layer, int direction, ReadOnlySpan<double> norms)
        {
            first.Observe(layer, direction, norms);
            second.Observe(layer, direction, norms);
        }
    }

    private sealed class Probe(List<(int, int)> seen) : IGradientFlowObserver
    {
        public void Observe(int layer, int direction, ReadOnlySpan<double> norms) => seen.Add((layer, direction));
    }
}
