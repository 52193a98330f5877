using Recur.Kernels;
using Recur.Kernels.Recurrent;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>
/// The schedules (<see cref="RecurrentStepSchedule"/>) change only how the time loop is spread over threads:
/// batch-parallel row blocks and hidden-unit blocks must give bitwise the results of the per-step engine on one
/// thread, with 1, 2 and 3 threads, for every cell, variable lengths (length 0 included), both directions, given and
/// zero initial states, an LSTM projection, dropout between layers, recurrent dropout, and sizes that take the packed
/// product (more than 4 rows), the skinny one (at most 4), both in one step (the reverse direction's two ranges),
/// several k-blocks and a partial unit block. The backward pass follows the forward's batch-parallel choice, so the
/// gradients (input, initial states, every weight and bias) are compared too.
/// </summary>
[Collection(nameof(IsolatedCollection))]
public class StepScheduleTests
{
    public sealed record Case(string Name, RecurrentMode Mode, int Layers, bool Bi, int T, int B, int I, int H, bool VarLen,
        bool H0 = true, int P = 0, bool Bias = true, float Dropout = 0f, float RecurrentDropout = 0f, bool Empty = false)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Case> Cases() => new()
    {
        new Case("lstm bi, 7 rows (packed and skinny ranges), partial unit block", RecurrentMode.Lstm, 2, true, T: 6, B: 7, I: 20, H: 130, VarLen: true),
        new Case("lstm 3 rows (skinny), k over two blocks", RecurrentMode.Lstm, 1, false, T: 4, B: 3, I: 10, H: 300, VarLen: true),
        new Case("lstm 1 row, no h0", RecurrentMode.Lstm, 2, false, T: 5, B: 1, I: 8, H: 256, VarLen: false, H0: false),
        new Case("lstm projection bi", RecurrentMode.Lstm, 2, true, T: 5, B: 6, I: 12, H: 160, VarLen: true, P: 64),
        new Case("gru bi", RecurrentMode.Gru, 2, true, T: 5, B: 5, I: 9, H: 150, VarLen: true),
        new Case("gru no bias, no h0", RecurrentMode.Gru, 1, false, T: 4, B: 8, I: 6, H: 80, VarLen: true, H0: false, Bias: false),
        new Case("rnn tanh bi", RecurrentMode.RnnTanh, 2, true, T: 5, B: 4, I: 7, H: 200, VarLen: true),
        new Case("rnn relu", RecurrentMode.RnnRelu, 1, false, T: 6, B: 8, I: 7, H: 150, VarLen: true),
        new Case("lstm recurrent dropout", RecurrentMode.Lstm, 2, false, T: 4, B: 6, I: 11, H: 96, VarLen: true, Dropout: 0.3f, RecurrentDropout: 0.25f),
        new Case("lstm 40 rows bi", RecurrentMode.Lstm, 2, true, T: 7, B: 40, I: 16, H: 64, VarLen: true),
        new Case("gru 29 rows", RecurrentMode.Gru, 1, true, T: 6, B: 29, I: 16, H: 100, VarLen: true),
        // Length 0 rows (never running), dropout between layers and recurrent dropout, through the backward pass.
        new Case("lstm bi dropout, length 0, 12 rows", RecurrentMode.Lstm, 2, true, T: 6, B: 12, I: 10, H: 70, VarLen: true, Dropout: 0.2f, Empty: true),
        new Case("lstm projection bi, recurrent dropout, length 0", RecurrentMode.Lstm, 2, true, T: 5, B: 9, I: 8, H: 80, VarLen: true,
            P: 40, Dropout: 0.2f, RecurrentDropout: 0.3f, Empty: true),
        new Case("lstm projection bi 14 rows, k over two blocks", RecurrentMode.Lstm, 1, true, T: 5, B: 14, I: 6, H: 300, VarLen: true, P: 270, Empty: true),
        new Case("gru bi recurrent dropout, length 0", RecurrentMode.Gru, 2, true, T: 5, B: 10, I: 7, H: 60, VarLen: true,
            Dropout: 0.25f, RecurrentDropout: 0.2f, Empty: true),
        new Case("rnn relu bi dropout, length 0", RecurrentMode.RnnRelu, 2, true, T: 5, B: 11, I: 6, H: 90, VarLen: true, Dropout: 0.25f, Empty: true),
        new Case("rnn tanh recurrent dropout, 4 rows (skinny), length 0", RecurrentMode.RnnTanh, 2, false, T: 4, B: 4, I: 5, H: 40, VarLen: true,
            RecurrentDropout: 0.3f, Empty: true),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryScheduleMatchesThePerStepEngineForOneTwoAndThreeThreads(Case c)
    {
        byte[] expected = Run(c, RecurrentStepSchedule.PerStep, 1);
        foreach (var schedule in new[] { RecurrentStepSchedule.BatchParallel, RecurrentStepSchedule.HiddenBlocks, RecurrentStepSchedule.Auto })
            foreach (int threads in new[] { 1, 2, 3 })
                Assert.True(expected.AsSpan().SequenceEqual(Run(c, schedule, threads)), $"{schedule} with {threads} threads differs from the per-step engine");
    }

    [Fact]
    public void TheBackwardRunsBatchParallelExactlyWhenTheForwardDid()
    {
        // 64 rows on 2 threads: Auto takes batch-parallel (32 rows per thread, far above its threshold).
        var c = new Case("lstm bi 64 rows", RecurrentMode.Lstm, 2, true, T: 5, B: 64, I: 6, H: 24, VarLen: true, Empty: true);
        Assert.Equal(RecurrentStepSchedule.BatchParallel, BackwardSchedule(c, RecurrentStepSchedule.BatchParallel, 2, flow: null));
        Assert.Equal(RecurrentStepSchedule.BatchParallel, BackwardSchedule(c, RecurrentStepSchedule.BatchParallel, 1, flow: null));
        Assert.Equal(RecurrentStepSchedule.BatchParallel, BackwardSchedule(c, RecurrentStepSchedule.Auto, 2, flow: null));
        Assert.Equal(RecurrentStepSchedule.PerStep, BackwardSchedule(c, RecurrentStepSchedule.Auto, 1, flow: null));
        Assert.Equal(RecurrentStepSchedule.PerStep, BackwardSchedule(c, RecurrentStepSchedule.PerStep, 2, flow: null));
        Assert.Equal(RecurrentStepSchedule.PerStep, BackwardSchedule(c, RecurrentStepSchedule.HiddenBlocks, 2, flow: null));
        // The benchmark's switch for the backward's own A/B.
        Assert.Equal(RecurrentStepSchedule.PerStep, BackwardSchedule(c, RecurrentStepSchedule.BatchParallel, 2, flow: null, batchParallelBackward: false));
        // A gradient-flow observer needs each step's norm over all rows: that backward runs per step, with the same norms.
        var perStep = new FlowRecorder();
        var batchParallel = new FlowRecorder();
        Assert.Equal(RecurrentStepSchedule.PerStep, BackwardSchedule(c, RecurrentStepSchedule.PerStep, 1, perStep));
        Assert.Equal(RecurrentStepSchedule.PerStep, BackwardSchedule(c, RecurrentStepSchedule.BatchParallel, 2, batchParallel));
        Assert.Equal(4, perStep.Norms.Count);
        Assert.Contains(perStep.Norms, n => n.Any(v => v > 0));
        Assert.Equal(perStep.Norms, batchParallel.Norms);
    }

    private static RecurrentStepSchedule BackwardSchedule(Case c, RecurrentStepSchedule schedule, int threads, IGradientFlowObserver? flow,
        bool batchParallelBackward = true)
    {
        int saved = Parallelism.ThreadCount;
        Parallelism.ThreadCount = threads;
        try
        {
            var layer = new Recurrent(c.Mode, c.I, c.H, c.Layers, c.Bi, rng: new Rng(5)) { Engine = new RecurrentEngineOptions { Schedule = schedule, BatchParallelBackward = batchParallelBackward } };
            var rng = new Rng(6);
            var lengths = new int[c.B];
            for (int b = 0; b < c.B; b++) lengths[b] = b % (c.T + 1);
            var x = Tensor.FromArray(Random(rng, c.T * c.B * c.I), c.T, c.B, c.I);
            using var r = layer.Forward(x, lengths);
            Assert.Equal(RecurrentStepSchedule.Auto, r.BackwardSchedule(0, 0));
            r.Backward(Tensor.FromArray(Random(rng, c.T * c.B * layer.OutputSize), c.T, c.B, layer.OutputSize), gradientFlow: flow);
            var first = r.BackwardSchedule(0, 0);
            for (int l = 0; l < c.Layers; l++)
                for (int d = 0; d < (c.Bi ? 2 : 1); d++)
                    Assert.Equal(first, r.BackwardSchedule(l, d));
            return first;
        }
        finally { Parallelism.ThreadCount = saved; }
    }

    private sealed class FlowRecorder : IGradientFlowObserver
    {
        public List<double[]> Norms { get; } = [];

        public void Observe(int layer, int direction, ReadOnlySpan<double> norms) => Norms.Add(norms.ToArray());
    }

    [Theory]
    [InlineData(new[] { 5, 5, 5, 5 }, 2, new[] { 0, 2, 4 })]
    [InlineData(new[] { 10, 1, 1, 1 }, 2, new[] { 0, 1, 4 })]
    [InlineData(new[] { 9, 8, 3, 2, 1, 1 }, 3, new[] { 0, 1, 2, 6 })]
    [InlineData(new[] { 4 }, 3, new[] { 0, 0, 0, 1 })]
    [InlineData(new[] { 3, 3, 3 }, 3, new[] { 0, 1, 2, 3 })]
    public void BatchParallelBlocksHoldAboutEqualWork(int[] lengths, int blocks, int[] expected)
    {
        var bounds = new int[blocks + 1];
        BatchParallelPass.Cut(lengths, blocks, bounds);
        Assert.Equal(expected, bounds);
    }

    [Fact]
    public void TheScheduleIsValidated()
    {
        Assert.Equal(RecurrentStepSchedule.Auto, RecurrentEngineOptions.Default.Schedule);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecurrentEngineOptions { Schedule = (RecurrentStepSchedule)17 });
    }

    private static byte[] Run(Case c, RecurrentStepSchedule schedule, int threads)
    {
        int saved = Parallelism.ThreadCount;
        Parallelism.ThreadCount = threads;
        try
        {
            var layer = new Recurrent(c.Mode, c.I, c.H, c.Layers, c.Bi, bias: c.Bias, batchFirst: false, dropout: c.Dropout,
                rng: new Rng(11), recurrentDropout: c.RecurrentDropout, projSize: c.P)
            { Engine = new RecurrentEngineOptions { Schedule = schedule } };
            int R = c.P > 0 ? c.P : c.H;
            var rng = new Rng(12);
            int LD = c.Layers * (c.Bi ? 2 : 1);
            var lengths = new int[c.B];
            for (int b = 0; b < c.B; b++) lengths[b] = c.VarLen ? 1 + (b * 7 + 3) % c.T : c.T;
            lengths[c.B / 2] = c.T;
            if (c.Empty) lengths[c.B - 1] = lengths[0] = 0;
            var x = Tensor.FromArray(Random(rng, c.T * c.B * c.I), c.T, c.B, c.I);
            var h0 = c.H0 ? Tensor.FromArray(Random(rng, LD * c.B * R), LD, c.B, R) : null;
            var c0 = c.H0 && c.Mode == RecurrentMode.Lstm ? Tensor.FromArray(Random(rng, LD * c.B * c.H), LD, c.B, c.H) : null;
            var all = new List<float>();
            using (var inference = layer.Forward(x, lengths, h0, c0, requiresGrad: false))
            {
                all.AddRange(inference.Output.ToArray());
                all.AddRange(inference.HiddenState.ToArray());
            }
            using var r = layer.Forward(x, lengths, h0, c0);
            var dY = Tensor.FromArray(Random(rng, c.T * c.B * layer.OutputSize), c.T, c.B, layer.OutputSize);
            var dHn = Tensor.FromArray(Random(rng, LD * c.B * R), LD, c.B, R);
            var g = r.Backward(dY, dHn);
            all.AddRange(r.Output.ToArray());
            all.AddRange(r.HiddenState.ToArray());
            if (r.CellState is not null) all.AddRange(r.CellState.ToArray());
            all.AddRange(g.Input.ToArray());
            all.AddRange(g.HiddenState.ToArray());
            if (g.CellState is not null) all.AddRange(g.CellState.ToArray());
            foreach (var p in layer.Parameters()) all.AddRange(p.Grad.ToArray());
            return System.Runtime.InteropServices.MemoryMarshal.AsBytes(all.ToArray().AsSpan()).ToArray();
        }
        finally { Parallelism.ThreadCount = saved; }
    }

    private static float[] Random(Rng rng, int n)
    {
        var a = new float[n];
        rng.FillUniform(a, -1f, 1f);
        return a;
    }
}
