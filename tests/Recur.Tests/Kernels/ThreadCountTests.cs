using Recur.Kernels;
using Recur.Kernels.Recurrent;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>
/// Results must be bitwise identical for any thread count, at every size: forward and backward of a recurrent stack
/// are run with 1, 2 and 3 threads at sizes chosen to take each parallel path of the engine, and every output and
/// gradient is compared bit for bit.
/// </summary>
[Collection(nameof(IsolatedCollection))]
public class ThreadCountTests
{
    public sealed record Case(string Name, RecurrentMode Mode, int Layers, bool Bidirectional, int T, int B, int I, int H,
        double FusedMax, bool VarLen, float Dropout = 0f, float RecurrentDropout = 0f, bool InputGrad = true)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Case> Cases() => new()
    {
        // Row-block step path (1M..8M multiply-adds per step): blocks of a step shrink to a few rows with 3 threads
        // (5, 5 and 3 of 13 rows), which once took the skinny product instead of the packed one.
        new Case("lstm row blocks", RecurrentMode.Lstm, 2, true, T: 5, B: 13, I: 40, H: 256, FusedMax: 8e6, VarLen: true),
        new Case("gru row blocks", RecurrentMode.Gru, 1, true, T: 5, B: 13, I: 40, H: 300, FusedMax: 8e6, VarLen: true),
        new Case("rnn row blocks", RecurrentMode.RnnTanh, 2, false, T: 6, B: 9, I: 20, H: 512, FusedMax: 8e6, VarLen: true),
        new Case("lstm row blocks, batch 8", RecurrentMode.Lstm, 1, false, T: 6, B: 8, I: 64, H: 512, FusedMax: 8e6, VarLen: false),
        new Case("lstm row blocks, recurrent dropout", RecurrentMode.Lstm, 2, false, T: 4, B: 13, I: 30, H: 256, FusedMax: 8e6,
            VarLen: true, Dropout: 0.3f, RecurrentDropout: 0.25f),
        // Every step through the column-split product (FusedMax 0): GEMM column tiles per thread, gates by rows.
        new Case("lstm column split", RecurrentMode.Lstm, 1, true, T: 4, B: 40, I: 33, H: 256, FusedMax: 0, VarLen: true),
        new Case("gru column split", RecurrentMode.Gru, 2, false, T: 4, B: 24, I: 33, H: 256, FusedMax: 0, VarLen: false),
        // Large GEMMs: K over several KC blocks (input 600, G*H 1024), row and column tiles, many rows.
        new Case("lstm large gemms", RecurrentMode.Lstm, 2, true, T: 3, B: 40, I: 600, H: 256, FusedMax: 8e6, VarLen: true),
        new Case("lstm no input gradient", RecurrentMode.Lstm, 2, false, T: 5, B: 13, I: 40, H: 256, FusedMax: 8e6, VarLen: true,
            InputGrad: false),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackwardAreBitwiseIdenticalForOneTwoAndThreeThreads(Case c)
    {
        byte[] one = Run(c, 1);
        Assert.Equal(one, Run(c, 2));
        Assert.Equal(one, Run(c, 3));
    }

    private static byte[] Run(Case c, int threads)
    {
        int saved = Parallelism.ThreadCount;
        Parallelism.ThreadCount = threads;
        try
        {
            var layer = new Recurrent(c.Mode, c.I, c.H, c.Layers, c.Bidirectional, bias: true, batchFirst: false,
                dropout: c.Dropout, rng: new Rng(11), recurrentDropout: c.RecurrentDropout)
            { Engine = new RecurrentEngineOptions { FusedMax = c.FusedMax } };
            var rng = new Rng(12);
            int LD = c.Layers * (c.Bidirectional ? 2 : 1);
            var lengths = new int[c.B];
            for (int b = 0; b < c.B; b++) lengths[b] = c.VarLen ? 1 + (b * 7 + 3) % c.T : c.T;
            lengths[c.B / 2] = c.T;
            var x = Tensor.FromArray(Random(rng, c.T * c.B * c.I), c.T, c.B, c.I);
            // Real initial states, so no step skips its recurrent product.
            var h0 = Tensor.FromArray(Random(rng, LD * c.B * c.H), LD, c.B, c.H);
            var c0 = c.Mode == RecurrentMode.Lstm ? Tensor.FromArray(Random(rng, LD * c.B * c.H), LD, c.B, c.H) : null;
            using var r = layer.Forward(x, lengths, h0, c0, inputRequiresGrad: c.InputGrad);
            var dY = Tensor.FromArray(Random(rng, c.T * c.B * layer.OutputSize), c.T, c.B, layer.OutputSize);
            var dHn = Tensor.FromArray(Random(rng, LD * c.B * c.H), LD, c.B, c.H);
            var g = r.Backward(dY, dHn);
            var all = new List<float>();
            all.AddRange(r.Output.ToArray());
            all.AddRange(r.HiddenState.ToArray());
            if (r.CellState is not null) all.AddRange(r.CellState.ToArray());
            all.AddRange(g.Input.ToArray());
            all.AddRange(g.HiddenState.ToArray());
            if (g.CellState is not null) all.AddRange(g.CellState.ToArray());
            foreach (var p in layer.Parameters()) all.AddRange(p.Grad.ToArray());
            Assert.Equal(c.InputGrad, g.Input.Length > 0);
            return System.Runtime.InteropServices.MemoryMarshal.AsBytes(all.ToArray().AsSpan()).ToArray();
        }
        finally { Parallelism.ThreadCount = saved; }
    }

    public static TheoryData<int, int, int, Transpose, Transpose, float, float> GemmShapes() => new()
    {
        // Skinny (m <= 4): column blocks in parallel, both layouts of B.
        { 3, 1000, 300, Transpose.No, Transpose.No, 1f, 0f },
        { 4, 777, 530, Transpose.Yes, Transpose.Yes, 0.5f, 1f },
        // One row tile, column tiles per thread; K over three KC blocks.
        { 50, 700, 600, Transpose.No, Transpose.Yes, 1f, 1f },
        { 64, 2048, 512, Transpose.No, Transpose.Yes, 1f, 0f },
        // Many row tiles (with 2 threads) or row and column tiles (3 threads); A transposed, beta scaling.
        { 900, 300, 520, Transpose.Yes, Transpose.No, -1.5f, 0.25f },
        // The bias-gradient shape: one row, K = all steps.
        { 1, 2048, 4000, Transpose.No, Transpose.No, 1f, 0f },
    };

    [Theory]
    [MemberData(nameof(GemmShapes))]
    public void SgemmIsBitwiseIdenticalForOneTwoAndThreeThreads(int m, int n, int k, Transpose ta, Transpose tb, float alpha, float beta)
    {
        var rng = new Rng(21);
        float[] a = Random(rng, m * k), b = Random(rng, k * n), c0 = Random(rng, m * n);
        byte[] Run(int threads)
        {
            int saved = Parallelism.ThreadCount;
            Parallelism.ThreadCount = threads;
            try
            {
                var c = (float[])c0.Clone();
                Gemm.Sgemm(ta, tb, m, n, k, alpha, a, ta == Transpose.No ? k : m, b, tb == Transpose.No ? n : k, beta, c, n);
                var packed = PackedMatrix.Pack(tb, k, n, b, tb == Transpose.No ? n : k);
                var cp = (float[])c0.Clone();
                Gemm.Sgemm(ta, m, alpha, a, ta == Transpose.No ? k : m, packed, beta, cp, n);
                return System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.Concat(cp).ToArray().AsSpan()).ToArray();
            }
            finally { Parallelism.ThreadCount = saved; }
        }
        byte[] one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }

    private static float[] Random(Rng rng, int n)
    {
        var a = new float[n];
        rng.FillUniform(a, -1f, 1f);
        return a;
    }
}
