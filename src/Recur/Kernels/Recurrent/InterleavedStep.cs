using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Recur.Kernels.Recurrent;

/// <summary>
/// One forward time step cut by hidden units instead of rows (<see cref="RecurrentStepSchedule.HiddenBlocks"/>, oneDNN's
/// brgemm RNN): a block of NR units (the GEMM panel width) computes all G gates of h W_hh^T for its units and then runs
/// the cell kernel on them as the product's epilogue, so no gate value crosses cores and a step needs one dispatch.
/// This is the parallel schedule for a few rows (streaming, one sequence), where row blocks give no parallelism.
/// </summary>
/// <remarks>
/// <para>Every element is summed exactly as the per-step engine sums it: a range of rows takes the packed product
/// (<see cref="Gemm.MicroKernel{TS, TV}"/> over k-blocks of <see cref="Gemm.KC"/>, from W_hh^T packed gate-interleaved,
/// <see cref="PackedWeights.GetInterleaved"/>) when its whole range takes a packed product (<see cref="Gemm.TakesPacked"/>)
/// and the skinny dot product (<see cref="Gemm.Skinny.Dot{TS, TV}"/>) otherwise, and adds it to the pre-activation with
/// one rounding, as <see cref="RecurrentCell.StepGemm"/> does. The cell kernels run over a block's units through their
/// usual entry points: the block's G gate slices are gathered into a scratch row [g0 | g1 | ...] (their gate stride is
/// their H), and the activations backward reads are copied back. Unit blocks start at multiples of the vector width, so
/// every column takes the same vector or scalar-tail path as in a whole-row kernel.</para>
/// <para>An LSTM projection (h = m W_hr^T) needs every unit's m, so it runs after the blocks, as the per-step engine
/// runs it. Reused across steps: no allocation per step.</para>
/// </remarks>
internal sealed unsafe class InterleavedStep : IParallelJob
{
    private static readonly ThreadLocal<InterleavedStep> Jobs = new(() => new InterleavedStep());
    [ThreadStatic] private static AlignedBuffer? scratch;

    /// <summary>Below this many multiply-adds in a step's recurrent product, one thread does all unit blocks.</summary>
    internal const double ParallelWork = 1 << 17;

    private readonly PrevRange[] ranges = new PrevRange[2];
    private readonly long[] aLd = new long[2];
    private readonly nint[] aPtr = new nint[2];
    private int rangeCount;
    private CellKind kind;
    private DirectionPass pass = null!;
    private PackedMatrix? interleaved;
    private int t, blocks, chunks, nr;
    private bool keepGates;

    /// <summary>The job of the calling thread.</summary>
    public static InterleavedStep ForThread => Jobs.Value!;

    /// <summary>
    /// Forward step <paramref name="step"/> of <paramref name="p"/> over the rows <paramref name="prev"/> covers.
    /// <paramref name="whhI"/> is W_hh^T packed gate-interleaved (null when no range takes the packed product);
    /// <paramref name="keepActivations"/> copies the gate activations back into Gates[t] for backward.
    /// </summary>
    public void Run(RecurrentCell cell, DirectionPass p, int step, ReadOnlySpan<PrevRange> prev, PackedMatrix? whhI, bool keepActivations)
    {
        kind = cell.Kind;
        pass = p;
        t = step;
        interleaved = whhI;
        keepGates = keepActivations;
        nr = Gemm.PanelWidth(p.Width);
        blocks = (p.H + nr - 1) / nr;
        prev.CopyTo(ranges);
        rangeCount = prev.Length;
        for (int i = 0; i < rangeCount; i++)
        {
            var r = ranges[i];
            aPtr[i] = (nint)r.H;
            aLd[i] = r.LdH;
            if (r.HZero || p.RecurrentMask == null) continue;
            // h_prev * M (variational recurrent dropout), once for all blocks, as RecurrentProjection does.
            float* a = p.MaskedPrev + (long)r.R0 * p.R;
            for (int row = 0; row < r.R1 - r.R0; row++)
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(r.H + (long)row * r.LdH, p.R),
                    new ReadOnlySpan<float>(p.RecurrentMask + (long)(r.R0 + row) * p.R, p.R), new Span<float>(a + (long)row * p.R, p.R));
            aPtr[i] = (nint)a;
            aLd[i] = p.R;
        }
        int rows = prev[^1].R1 - prev[0].R0;
        double work = (double)rows * p.G * p.H * p.R;
        int threads = Parallelism.ThreadCount;
        chunks = work < ParallelWork || threads == 1 ? 1 : Math.Min(threads, blocks);
        if (chunks == 1) Execute(0);
        else Parallelism.For(this, chunks);

        if (p.Projected)
        {
            // h_t = m_t W_hr^T, with every unit's m_t in place: the same product as LstmCell.Forward.
            foreach (var r in prev)
            {
                long o = r.R0;
                RecurrentCell.StepGemm(r.R1 - r.R0, r.FullRows, p.StateAt(p.M, t) + o * p.H, p.H, p.WhrT, p.Whr, Transpose.Yes, p.H, p.R, 0f,
                    p.YAt(t) + o * p.LdY, p.LdY, p.Width);
            }
        }
        pass = null!;
        interleaved = null;
    }

    /// <summary>Unit blocks [chunk * blocks / chunks, (chunk + 1) * blocks / chunks).</summary>
    public void Execute(int chunk)
    {
        int b0 = (int)((long)chunk * blocks / chunks), b1 = (int)((long)(chunk + 1) * blocks / chunks);
        switch (pass.Width)
        {
            case SimdWidth.V512: Blocks<Simd512, Vector512<float>>(b0, b1); break;
            case SimdWidth.V256: Blocks<Simd256, Vector256<float>>(b0, b1); break;
            case SimdWidth.V128: Blocks<Simd128, Vector128<float>>(b0, b1); break;
            default: Blocks<Simd1, float>(b0, b1); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Blocks<TS, TV>(int b0, int b1) where TS : struct, ISimd<TV> where TV : struct
    {
        var p = pass;
        int H = p.H, G = p.G, R = p.R, gh = G * H;
        int mr = Gemm.MR;
        int rowsAll = ranges[rangeCount - 1].R1 - ranges[0].R0;

        // Scratch: packed A of every packed range (R x slivers*MR each), the gate rows of a block (rows x 2G x NR: the
        // GRU keeps its input part and h W_hh^T apart), the block's gate biases (G x NR: b_ih + b_hh, or the GRU's b_ih),
        // the GRU's b_hh block (G x NR), the micro-kernel's edge tile.
        long packedA = 0;
        for (int i = 0; i < rangeCount; i++)
            if (TakesPacked(ranges[i])) packedA += (long)R * Slivers(ranges[i]) * mr;
        long gateRows = (long)rowsAll * 2 * G * nr;
        var buffer = scratch ??= new AlignedBuffer();
        buffer.Ensure(packedA + gateRows + 2 * G * nr + mr * nr + 64);
        float* ap = buffer.Pointer;
        float* rowsBuf = ap + packedA;
        float* biasBlock = rowsBuf + gateRows;
        float* gateBiasBlock = biasBlock + G * nr;
        float* edge = gateBiasBlock + G * nr;

        // Pack op(A) of the packed ranges once for this thread's blocks: k-block k0 of kc rows holds sliver s at
        // k0 * slivers * MR + s * kc * MR, element (row i, k p) at p * MR + i, zero past the range's rows.
        long offset = 0;
        Span<long> aPacked = stackalloc long[2];
        for (int i = 0; i < rangeCount; i++)
        {
            var r = ranges[i];
            if (!TakesPacked(r)) continue;
            aPacked[i] = offset;
            int slivers = Slivers(r), n = r.R1 - r.R0;
            float* a = (float*)aPtr[i];
            long lda = aLd[i];
            for (int k0 = 0; k0 < R; k0 += Gemm.KC)
            {
                int kc = Math.Min(Gemm.KC, R - k0);
                float* kb = ap + offset + (long)k0 * slivers * mr;
                for (int s = 0; s < slivers; s++)
                {
                    float* d = kb + (long)s * kc * mr;
                    for (int ii = 0; ii < mr; ii++)
                    {
                        int row = s * mr + ii;
                        if (row < n)
                        {
                            float* src = a + row * lda + k0;
                            for (int q = 0; q < kc; q++) d[q * mr + ii] = src[q];
                        }
                        else for (int q = 0; q < kc; q++) d[q * mr + ii] = 0f;
                    }
                }
            }
            offset += (long)R * slivers * mr;
        }

        bool gru = kind == CellKind.Gru, lstm = kind == CellKind.Lstm;
        float* gatesT = p.GatesAt(t);
        for (int ub = b0; ub < b1; ub++)
        {
            int u0 = ub * nr, cols = Math.Min(nr, H - u0);
            if (gru && p.Bhh != null)
                for (int g = 0; g < G; g++) new ReadOnlySpan<float>(p.Bhh + g * H + u0, cols).CopyTo(new Span<float>(biasBlock + g * cols, cols));
            // The forward kernels add the gate bias themselves (after the recurrent sum, as the per-step path does), so
            // the block's slice of it goes beside the block's gate rows, gate g at g * cols.
            if (p.GateBias != null && (lstm || gru))
                for (int g = 0; g < G; g++) new ReadOnlySpan<float>(p.GateBias + g * H + u0, cols).CopyTo(new Span<float>(gateBiasBlock + g * cols, cols));
            for (int i = 0; i < rangeCount; i++)
            {
                var r = ranges[i];
                int n = r.R1 - r.R0;
                // The product's target: (n, G*cols) gate rows [g0 | g1 | ...] in scratch, or for the one-gate RNN the
                // gates in place. The GRU's h W_hh^T goes to its own rows (ldt wide), its input part beside them.
                int ldt = G * cols;
                float* target;
                float* gx = null;
                if (kind == CellKind.RnnTanh || kind == CellKind.RnnRelu)
                {
                    target = gatesT + (long)r.R0 * gh + u0;
                    ldt = gh;
                }
                else
                {
                    target = rowsBuf;
                    float* pre = gru ? rowsBuf + (long)n * ldt : rowsBuf;
                    if (gru) gx = pre;
                    for (int row = 0; row < n; row++)
                        for (int g = 0; g < G; g++)
                            new ReadOnlySpan<float>(gatesT + (long)(r.R0 + row) * gh + g * H + u0, cols)
                                .CopyTo(new Span<float>(pre + (long)row * ldt + g * cols, cols));
                }
                bool overwrite = gru; // the GRU's h W_hh^T has no pre-activation under it (beta = 0)

                if (r.HZero)
                {
                    if (overwrite)
                        for (int row = 0; row < n; row++) new Span<float>(target + (long)row * ldt, ldt).Clear();
                }
                else if (TakesPacked(r))
                {
                    int slivers = Slivers(r);
                    for (int g = 0; g < G; g++)
                        for (int k0 = 0; k0 < R; k0 += Gemm.KC)
                        {
                            int kc = Math.Min(Gemm.KC, R - k0);
                            float* bp = interleaved!.Panel(k0, kc, ub * G + g);
                            float* kb = ap + aPacked[i] + (long)k0 * slivers * mr;
                            bool first = overwrite && k0 == 0;
                            for (int s = 0; s < slivers; s++)
                                Gemm.MicroKernel<TS, TV>(kc, kb + (long)s * kc * mr, bp, target + (long)s * mr * ldt + g * cols, ldt,
                                    1f, first, Math.Min(mr, n - s * mr), cols, edge);
                        }
                }
                else
                {
                    float* a = (float*)aPtr[i];
                    long lda = aLd[i];
                    for (int row = 0; row < n; row++)
                    {
                        float* arow = a + row * lda;
                        float* trow = target + (long)row * ldt;
                        for (int g = 0; g < G; g++)
                        {
                            float* w = p.Whh + ((long)g * H + u0) * R;
                            for (int j = 0; j < cols; j++)
                            {
                                float d = Gemm.Skinny.Dot<TS, TV>(arow, w + (long)j * R, R);
                                float* c = trow + g * cols + j;
                                *c = overwrite ? d : float.MultiplyAddEstimate(1f, *c, d);
                            }
                        }
                    }
                }

                // The cell on this block's units, then the activations back where backward reads them.
                long o = r.R0;
                switch (kind)
                {
                    case CellKind.Lstm:
                    {
                        var k = new LstmForwardKernel
                        {
                            Width = p.Width, H = cols,
                            Gates = target, LdGates = ldt, Bias = p.GateBias == null ? null : gateBiasBlock,
                            CPrev = r.C + u0, LdCPrev = r.LdC,
                            C = p.StateAt(p.C, t) + o * H + u0, LdC = H,
                            TanhC = p.TanhC == null ? null : p.StateAt(p.TanhC, t) + o * H + u0, LdTanhC = H,
                            HOut = p.Projected ? p.StateAt(p.M, t) + o * H + u0 : p.YAt(t) + o * p.LdY + u0,
                            LdH = p.Projected ? H : p.LdY,
                        };
                        k.Run(0, n);
                        break;
                    }
                    case CellKind.Gru:
                    {
                        var k = new GruForwardKernel
                        {
                            Width = p.Width, H = cols,
                            Gx = gx, LdGx = ldt, BiasIh = p.GateBias == null ? null : gateBiasBlock,
                            Gh = target, LdGh = ldt,
                            BiasHh = p.Bhh == null ? null : biasBlock,
                            HPrev = r.H + u0, LdHPrev = r.LdH,
                            Hn = p.Hn == null ? null : p.StateAt(p.Hn, t) + o * H + u0, LdHn = H,
                            HOut = p.YAt(t) + o * p.LdY + u0, LdH = p.LdY,
                        };
                        k.Run(0, n);
                        break;
                    }
                    default:
                    {
                        var k = new RnnForwardKernel
                        {
                            Width = p.Width, H = cols, Relu = kind == CellKind.RnnRelu,
                            Gates = target, LdGates = ldt, Bias = p.GateBias == null ? null : p.GateBias + u0,
                            HOut = p.YAt(t) + o * p.LdY + u0, LdH = p.LdY,
                        };
                        k.Run(0, n);
                        break;
                    }
                }
                if (keepGates && (lstm || gru))
                {
                    float* act = gru ? gx : target;
                    for (int row = 0; row < n; row++)
                        for (int g = 0; g < G; g++)
                            new ReadOnlySpan<float>(act + (long)row * ldt + g * cols, cols)
                                .CopyTo(new Span<float>(gatesT + (long)(r.R0 + row) * gh + g * H + u0, cols));
                }
            }
        }
    }

    private bool TakesPacked(PrevRange r) => !r.HZero && interleaved is not null && Gemm.TakesPacked(r.FullRows);

    private static int Slivers(PrevRange r) => (r.R1 - r.R0 + Gemm.MR - 1) / Gemm.MR;
}
