using Recur.Kernels;
using Recur.Kernels.Recurrent;
using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Reference;
using Recur.Tests.Support;

namespace Recur.Tests.Nn;

/// <summary>
/// The recurrent layers against their float64 twin (<see cref="RecurrentReference"/>), and the twin against
/// central finite differences in float64.
/// </summary>
public class RecurrentTests
{
    public sealed record Config(RecurrentMode Mode, int Layers, bool Bidirectional, bool Bias, bool BatchFirst, bool H0, bool VarLen, int T = 5, int B = 4, int I = 3, int H = 5, int P = 0)
    {
        /// <summary>Units of h: the projection's P (LSTM with proj_size), else H.</summary>
        public int R => P > 0 ? P : H;

        public override string ToString() =>
            $"{Mode} L={Layers}{(Bidirectional ? " bidir" : "")}{(Bias ? "" : " nobias")}{(BatchFirst ? " batch-first" : "")}{(H0 ? " h0" : "")}{(VarLen ? " varlen" : "")} T={T} B={B} I={I} H={H}{(P > 0 ? $" P={P}" : "")}";
    }

    /// <summary>LSTMs with a projection (proj_size): one layer, stacked and bidirectional with lengths and h0, batch-first, and sizes past the tiles.</summary>
    public static IEnumerable<Config> ProjectionConfigs() =>
    [
        new Config(RecurrentMode.Lstm, 1, false, true, false, false, false, P: 3),
        new Config(RecurrentMode.Lstm, 2, true, true, false, true, true, P: 2),
        new Config(RecurrentMode.Lstm, 2, false, false, true, true, false, P: 4),
        new Config(RecurrentMode.Lstm, 2, true, true, false, true, true, T: 7, B: 13, I: 19, H: 37, P: 17),
    ];

    public static TheoryData<Config> Configs()
    {
        var data = new TheoryData<Config>();
        foreach (var mode in Enum.GetValues<RecurrentMode>())
        {
            data.Add(new Config(mode, 1, false, true, false, false, false));
            data.Add(new Config(mode, 2, true, true, false, true, true));
            data.Add(new Config(mode, 2, false, false, true, true, false));
            data.Add(new Config(mode, 1, true, true, true, false, true));
            // Wider than the micro-kernel tile and the vector width, with odd sizes, so packed paths run.
            data.Add(new Config(mode, 2, true, true, false, true, true, T: 7, B: 13, I: 19, H: 37));
        }
        foreach (var c in ProjectionConfigs()) data.Add(c);
        return data;
    }

    /// <summary>Lengths with ties, a full-length sequence, and (for larger batches) an empty one.</summary>
    internal static int[] Lengths(Config c)
    {
        if (!c.VarLen) return Enumerable.Repeat(c.T, c.B).ToArray();
        var lens = new int[c.B];
        for (int b = 0; b < c.B; b++) lens[b] = (b * 7 + 3) % (c.T + 1);
        lens[c.B / 2] = c.T;
        if (c.B >= 4) lens[1] = 0;
        return lens;
    }

    internal static (Recurrent Layer, RecurrentReference Ref) Build(Config c, ulong seed)
    {
        var layer = new Recurrent(c.Mode, c.I, c.H, c.Layers, c.Bidirectional, c.Bias, c.BatchFirst, rng: new Rng(seed), projSize: c.P);
        var reference = new RecurrentReference(c.Mode, c.I, c.H, c.Layers, c.Bidirectional, c.Bias, c.P);
        foreach (var (name, p) in layer.NamedParameters())
            reference.Params[name] = p.Value.ToArray().Select(v => (double)v).ToArray();
        return (layer, reference);
    }

    internal static float[] RandomArray(Rng rng, int n, float scale = 1f)
    {
        var a = new float[n];
        rng.FillUniform(a, -scale, scale);
        return a;
    }

    /// <summary>(T, B, F) time-major to (B, T, F) and back.</summary>
    internal static float[] SwapTB(float[] src, int t, int b, int f, bool fromTimeMajor)
    {
        var dst = new float[src.Length];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < b; j++)
            {
                int tm = (i * b + j) * f, bm = (j * t + i) * f;
                if (fromTimeMajor) Array.Copy(src, tm, dst, bm, f); else Array.Copy(src, bm, dst, tm, f);
            }
        return dst;
    }

    private static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    /// <summary>
    /// Steps big enough to run in parallel: row blocks (product and gates per block) between 1M and 8M
    /// multiply-adds, column-split products above (see StepJob and <see cref="RecurrentEngineOptions.FusedMax"/>), with
    /// variable lengths and both directions.
    /// </summary>
    public static TheoryData<Config> ParallelStepConfigs() =>
    [
        new Config(RecurrentMode.Lstm, 1, true, true, false, true, true, T: 3, B: 40, I: 5, H: 100),
        new Config(RecurrentMode.Gru, 1, true, true, false, true, true, T: 3, B: 64, I: 5, H: 200),
        new Config(RecurrentMode.Lstm, 1, true, true, false, true, true, T: 3, B: 64, I: 5, H: 200),
        new Config(RecurrentMode.RnnTanh, 1, true, true, false, true, true, T: 3, B: 64, I: 5, H: 400),
        new Config(RecurrentMode.Lstm, 1, true, true, false, true, true, T: 3, B: 64, I: 5, H: 200, P: 96),
    ];

    [Theory]
    [MemberData(nameof(Configs))]
    [MemberData(nameof(ParallelStepConfigs))]
    public void MatchesFloat64Twin(Config c) => CheckAgainstTwin(c, null);

    /// <summary>
    /// The engine's scheduling setting changes speed, not results: with every step fused into one internally parallel
    /// block (FusedMax 0) and with row blocks at every size (FusedMax infinite), the layer still matches the twin.
    /// </summary>
    [Theory]
    [MemberData(nameof(ParallelStepConfigs))]
    public void MatchesTheTwinWhateverTheFusedStepThreshold(Config c)
    {
        CheckAgainstTwin(c, new RecurrentEngineOptions { FusedMax = 0 });
        CheckAgainstTwin(c, new RecurrentEngineOptions { FusedMax = double.PositiveInfinity });
    }

    [Fact]
    public void EngineOptionsAreValidatedAndPerLayer()
    {
        Assert.Equal(8e6, RecurrentEngineOptions.Default.FusedMax);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecurrentEngineOptions { FusedMax = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new RecurrentEngineOptions { FusedMax = double.NaN });
        var a = new Lstm(3, 4);
        var b = new Lstm(3, 4) { Engine = new RecurrentEngineOptions { FusedMax = 0 } };
        Assert.Same(RecurrentEngineOptions.Default, a.Engine);
        Assert.Equal(0, b.Engine.FusedMax);
        Assert.Throws<ArgumentNullException>(() => a.Engine = null!);
    }

    private static void CheckAgainstTwin(Config c, RecurrentEngineOptions? engine)
    {
        var rng = new Rng(7);
        var (layer, reference) = Build(c, 42);
        if (engine is not null) layer.Engine = engine;
        int T = c.T, B = c.B, Dh = layer.OutputSize, LD = c.Layers * layer.Directions;
        int[] lens = Lengths(c);
        float[] xTm = RandomArray(rng, T * B * c.I);
        float[]? h0 = c.H0 ? RandomArray(rng, LD * B * c.R) : null;
        float[]? c0 = c.H0 && c.Mode == RecurrentMode.Lstm ? RandomArray(rng, LD * B * c.H) : null;
        float[] dyTm = RandomArray(rng, T * B * Dh);
        float[] dhn = RandomArray(rng, LD * B * c.R);
        float[] dcn = RandomArray(rng, LD * B * c.H);

        var x = c.BatchFirst ? Tensor.FromArray(SwapTB(xTm, T, B, c.I, true), B, T, c.I) : Tensor.FromArray(xTm, T, B, c.I);
        var dy = c.BatchFirst ? Tensor.FromArray(SwapTB(dyTm, T, B, Dh, true), B, T, Dh) : Tensor.FromArray(dyTm, T, B, Dh);
        using var result = layer.Forward(x, c.VarLen ? lens : null, h0 is null ? null : Tensor.FromArray(h0, LD, B, c.R),
            c0 is null ? null : Tensor.FromArray(c0, LD, B, c.H));
        var grads = result.Backward(dy, Tensor.FromArray(dhn, LD, B, c.R), c.Mode == RecurrentMode.Lstm ? Tensor.FromArray(dcn, LD, B, c.H) : null);

        var fwd = reference.Forward(D(xTm), T, B, lens, h0 is null ? null : D(h0), c0 is null ? null : D(c0));
        var bwd = reference.Backward(fwd, T, B, lens, D(dyTm), D(dhn), c.Mode == RecurrentMode.Lstm ? D(dcn) : null);

        var report = new Compare.Report(2e-5);
        float[] y = c.BatchFirst ? SwapTB(result.Output.ToArray(), T, B, Dh, false) : result.Output.ToArray();
        report.Check("y", y, fwd.Y);
        report.Check("h_n", result.HiddenState.Span, fwd.Hn);
        if (c.Mode == RecurrentMode.Lstm) report.Check("c_n", result.CellState!.Span, fwd.Cn);
        float[] dx = c.BatchFirst ? SwapTB(grads.Input.ToArray(), T, B, c.I, false) : grads.Input.ToArray();
        report.Check("dx", dx, bwd.X);
        report.Check("dh0", grads.HiddenState.Span, bwd.H0);
        if (c.Mode == RecurrentMode.Lstm) report.Check("dc0", grads.CellState!.Span, bwd.C0);
        foreach (var (name, p) in layer.NamedParameters()) report.Check($"d{name}", p.Grad.Span, bwd.Params[name]);
        report.AssertAll();
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTwinAtEveryVectorWidth(Config c)
    {
        // The same comparison with the kernels forced to each path (wider-than-hardware paths are emulated).
        foreach (var width in Enum.GetValues<SimdWidth>())
        {
            using (SimdDispatch.Force(width))
            {
                var rng = new Rng(11);
                var (layer, reference) = Build(c with { BatchFirst = false }, 5);
                int T = c.T, B = c.B, LD = c.Layers * layer.Directions;
                int[] lens = Lengths(c);
                float[] x = RandomArray(rng, T * B * c.I);
                float[] dy = RandomArray(rng, T * B * layer.OutputSize);
                using var result = layer.Forward(Tensor.FromArray(x, T, B, c.I), c.VarLen ? lens : null);
                var grads = result.Backward(Tensor.FromArray(dy, T, B, layer.OutputSize));
                var fwd = reference.Forward(D(x), T, B, lens, null, null);
                var bwd = reference.Backward(fwd, T, B, lens, D(dy), null, null);
                var report = new Compare.Report(2e-5);
                report.Check($"{width} y", result.Output.Span, fwd.Y);
                report.Check($"{width} dx", grads.Input.Span, bwd.X);
                foreach (var (name, p) in layer.NamedParameters()) report.Check($"{width} d{name}", p.Grad.Span, bwd.Params[name]);
                report.AssertAll();
            }
        }
    }

    public static TheoryData<Config> GradientConfigs()
    {
        var data = new TheoryData<Config>();
        foreach (var mode in Enum.GetValues<RecurrentMode>())
        {
            // Both directions and two layers, variable lengths with an empty sequence, initial states.
            data.Add(new Config(mode, 2, true, true, false, true, true, T: 4, B: 4, I: 3, H: 3));
            data.Add(new Config(mode, 1, false, false, false, false, false, T: 3, B: 2, I: 2, H: 3));
        }
        // The projection path: stacked, bidirectional, variable lengths with an empty sequence, h0 and c0; and bare.
        data.Add(new Config(RecurrentMode.Lstm, 2, true, true, false, true, true, T: 4, B: 4, I: 3, H: 4, P: 2));
        data.Add(new Config(RecurrentMode.Lstm, 1, false, false, false, false, false, T: 3, B: 2, I: 2, H: 3, P: 1));
        return data;
    }

    [Theory]
    [MemberData(nameof(GradientConfigs))]
    public void Float64TwinMatchesFiniteDifferences(Config c)
    {
        var rng = new Rng(3);
        var reference = new RecurrentReference(c.Mode, c.I, c.H, c.Layers, c.Bidirectional, c.Bias, c.P);
        foreach (var (name, len) in reference.ParameterShapes())
            reference.Params[name] = Enumerable.Range(0, len).Select(_ => rng.NextDouble() * 1.2 - 0.6).ToArray();
        int T = c.T, B = c.B, LD = c.Layers * reference.D, DH = reference.D * c.R;
        int[] lens = Lengths(c);
        double[] R(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] x = R(T * B * c.I), h0 = R(LD * B * c.R), c0 = R(LD * B * c.H);
        double[] ry = R(T * B * DH), rh = R(LD * B * c.R), rc = R(LD * B * c.H);
        bool lstm = c.Mode == RecurrentMode.Lstm;

        double Loss()
        {
            var f = reference.Forward(x, T, B, lens, c.H0 ? h0 : null, c.H0 && lstm ? c0 : null);
            double s = 0;
            for (int i = 0; i < f.Y.Length; i++) s += f.Y[i] * ry[i];
            for (int i = 0; i < f.Hn.Length; i++) s += f.Hn[i] * rh[i];
            if (lstm) for (int i = 0; i < f.Cn.Length; i++) s += f.Cn[i] * rc[i];
            return s;
        }

        var fwd = reference.Forward(x, T, B, lens, c.H0 ? h0 : null, c.H0 && lstm ? c0 : null);
        var g = reference.Backward(fwd, T, B, lens, ry, rh, lstm ? rc : null);
        var report = new Compare.Report(1e-7);
        report.Check("dx", g.X, FiniteDifferences.Gradient(x, Loss));
        if (c.H0)
        {
            report.Check("dh0", g.H0, FiniteDifferences.Gradient(h0, Loss));
            if (lstm) report.Check("dc0", g.C0, FiniteDifferences.Gradient(c0, Loss));
        }
        foreach (var (name, _) in reference.ParameterShapes())
            report.Check($"d{name}", g.Params[name], FiniteDifferences.Gradient(reference.Params[name], Loss));
        report.AssertAll();
    }

    [Fact]
    public void PaddedStepsGiveZeroOutputAndFinalStatesComeFromEachSequencesEnd()
    {
        // Independent of the twin: run each sequence alone at its own length and compare with the padded batch.
        var c = new Config(RecurrentMode.Lstm, 2, true, true, true, false, true, T: 6, B: 5, I: 3, H: 4);
        var rng = new Rng(8);
        var (layer, _) = Build(c, 9);
        int[] lens = [6, 0, 2, 6, 3];
        float[] x = RandomArray(rng, c.B * c.T * c.I); // batch-first
        using var batch = layer.Forward(Tensor.FromArray(x, c.B, c.T, c.I), lens);
        for (int b = 0; b < c.B; b++)
        {
            for (int t = lens[b]; t < c.T; t++)
                for (int j = 0; j < layer.OutputSize; j++)
                    Assert.Equal(0f, batch.Output[b, t, j]);
            if (lens[b] == 0)
            {
                for (int k = 0; k < 4; k++)
                    for (int j = 0; j < c.H; j++) Assert.Equal(0f, batch.HiddenState[k, b, j]);
                continue;
            }
            var xs = new float[lens[b] * c.I];
            Array.Copy(x, b * c.T * c.I, xs, 0, xs.Length);
            using var alone = layer.Forward(Tensor.FromArray(xs, 1, lens[b], c.I));
            for (int t = 0; t < lens[b]; t++)
                for (int j = 0; j < layer.OutputSize; j++)
                    Assert.Equal(alone.Output[0, t, j], batch.Output[b, t, j], 5e-6f);
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < c.H; j++)
                {
                    Assert.Equal(alone.HiddenState[k, 0, j], batch.HiddenState[k, b, j], 5e-6f);
                    Assert.Equal(alone.CellState![k, 0, j], batch.CellState![k, b, j], 5e-6f);
                }
        }
    }

    [Fact]
    public void LengthZeroKeepsTheInitialStateAndPassesItsGradientThrough()
    {
        var layer = new Gru(2, 3, numLayers: 1, bidirectional: true, rng: new Rng(1));
        var rng = new Rng(2);
        var h0 = Tensor.FromArray(RandomArray(rng, 2 * 2 * 3), 2, 2, 3);
        using var r = layer.Forward(Tensor.FromArray(RandomArray(rng, 4 * 2 * 2), 4, 2, 2), [0, 4], h0);
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 3; j++) Assert.Equal(h0[k, 0, j], r.HiddenState[k, 0, j]);
        var dhn = Tensor.FromArray(RandomArray(rng, 12), 2, 2, 3);
        var g = r.Backward(null, dhn);
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 3; j++) Assert.Equal(dhn[k, 0, j], g.HiddenState[k, 0, j]);
    }

    [Fact]
    public void SameSeedAndThreadCountGiveBitwiseIdenticalResults()
    {
        var c = new Config(RecurrentMode.Lstm, 2, true, true, false, true, true, T: 9, B: 21, I: 33, H: 70);
        byte[] Run()
        {
            var (layer, _) = Build(c, 77);
            var rng = new Rng(5);
            int LD = c.Layers * 2;
            using var r = layer.Forward(Tensor.FromArray(RandomArray(rng, c.T * c.B * c.I), c.T, c.B, c.I), Lengths(c),
                Tensor.FromArray(RandomArray(rng, LD * c.B * c.H), LD, c.B, c.H));
            var g = r.Backward(Tensor.FromArray(RandomArray(rng, c.T * c.B * layer.OutputSize), c.T, c.B, layer.OutputSize));
            var all = r.Output.ToArray().Concat(r.HiddenState.ToArray()).Concat(g.Input.ToArray()).Concat(g.HiddenState.ToArray())
                .Concat(layer.Parameters().SelectMany(p => p.Grad.ToArray())).ToArray();
            return System.Runtime.InteropServices.MemoryMarshal.AsBytes(all.AsSpan()).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

}

[Collection(nameof(IsolatedCollection))]
public class RecurrentThreadCountTests
{
    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        // Tiles accumulate over K in a fixed order whatever the split, so one thread and all threads agree exactly.
        var c = new RecurrentTests.Config(RecurrentMode.Gru, 1, true, true, false, false, true, T: 6, B: 40, I: 50, H: 64);
        float[] Run(int threads)
        {
            int saved = Parallelism.ThreadCount;
            Parallelism.ThreadCount = threads;
            try
            {
                var (layer, _) = RecurrentTests.Build(c, 3);
                var rng = new Rng(4);
                using var r = layer.Forward(Tensor.FromArray(RecurrentTests.RandomArray(rng, c.T * c.B * c.I), c.T, c.B, c.I), RecurrentTests.Lengths(c));
                var g = r.Backward(Tensor.FromArray(RecurrentTests.RandomArray(rng, c.T * c.B * layer.OutputSize), c.T, c.B, layer.OutputSize));
                return r.Output.ToArray().Concat(g.Input.ToArray()).Concat(layer.Parameters().SelectMany(p => p.Grad.ToArray())).ToArray();
            }
            finally { Parallelism.ThreadCount = saved; }
        }
        Assert.Equal(Run(1), Run(Math.Max(2, Environment.ProcessorCount)));
    }
}
