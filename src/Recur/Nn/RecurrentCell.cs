using Recur.Kernels;

namespace Recur.Nn;

/// <summary>
/// One time step of a recurrent cell over the rows still running, forward and backward. A cell holds no state:
/// everything lives in the <see cref="DirectionPass"/> buffers. The time loop, stacking, the reverse direction
/// and variable lengths are the layer's business (<see cref="Recurrent"/>), shared by every cell.
/// </summary>
internal abstract unsafe class RecurrentCell
{
    /// <summary>Number of gates G: rows of W_ih and W_hh are G*H.</summary>
    public abstract int GateCount { get; }

    /// <summary>Whether b_hh is folded into the input projection (it can be for every cell but the GRU).</summary>
    public virtual bool FoldsRecurrentBias => true;

    /// <summary>
    /// Step t for the rows that <paramref name="prev"/> covers (contiguous ranges, in order, each with where its
    /// previous state lives). On entry Gates[t] holds x W_ih^T + the folded biases; on exit the step's outputs are
    /// written to Y[t] and whatever backward needs is saved. Rows are independent, so the time loop may run
    /// disjoint row blocks of one step in parallel.
    /// </summary>
    public abstract void Forward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev);

    /// <summary>
    /// Backward of step t for the rows <paramref name="prev"/> covers. On entry DH holds dL/dh_t (and DC dL/dc_t);
    /// on exit DGates[t] (and DGatesH[t]) hold the pre-activation gradients and DH (and DC) the gradient for step
    /// t's predecessor.
    /// </summary>
    public abstract void Backward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev);

    public static RecurrentCell For(RecurrentMode mode) => mode switch
    {
        RecurrentMode.RnnTanh => new RnnCell(relu: false),
        RecurrentMode.RnnRelu => new RnnCell(relu: true),
        RecurrentMode.Lstm => new LstmCell(),
        RecurrentMode.Gru => new GruCell(),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown recurrent mode"),
    };

    /// <summary>
    /// <c>C[rows] = (beta ? C : 0) + A[rows] * op(W)</c> for one step: the packed right-hand side when there is one
    /// and enough rows, otherwise the unpacked skinny path straight from W.
    /// </summary>
    protected static void StepGemm(int rows, float* a, int lda, PackedMatrix? packed, float* w, Transpose transW,
        int k, int n, float beta, float* c, int ldc, SimdWidth width)
    {
        if (rows <= 0) return;
        if (packed is not null && rows > Gemm.SkinnyRows)
            Gemm.MultiplyPacked(Transpose.No, rows, 1f, a, lda, packed, beta, c, ldc);
        else
            Gemm.Multiply(width, Transpose.No, transW, rows, n, k, 1f, a, lda, w, transW == Transpose.Yes ? k : n, beta, c, ldc);
    }

    /// <summary>Gates[t][rows] += hPrev[rows] W_hh^T, skipping ranges whose previous state is zero.</summary>
    protected static void AddRecurrentProjection(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev, float* target, int ldTarget)
    {
        int gh = p.G * p.H;
        foreach (var r in prev)
        {
            if (r.HZero) continue;
            StepGemm(r.R1 - r.R0, r.H, r.LdH, p.WhhT, p.Whh, Transpose.Yes, p.H, gh, 1f,
                target + (long)r.R0 * ldTarget, ldTarget, p.Width);
        }
    }
}

/// <summary>Elman RNN cell: h = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.</summary>
internal sealed unsafe class RnnCell(bool relu) : RecurrentCell
{
    public override int GateCount => 1;

    public override void Forward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        float* g = p.GatesAt(t);
        AddRecurrentProjection(p, t, prev, g, p.H);
        long r0 = prev[0].R0;
        var k = new RnnForwardKernel { Width = p.Width, H = p.H, Relu = relu, Gates = g + r0 * p.H, LdGates = p.H, HOut = p.YAt(t) + r0 * p.LdY, LdH = p.LdY };
        RowJob<RnnForwardKernel>.Run(k, prev[^1].R1 - prev[0].R0, 8 * p.H);
    }

    public override void Backward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        long r0 = prev[0].R0;
        int m = prev[^1].R1 - prev[0].R0;
        float* dg = p.DGatesAt(t) + r0 * p.H;
        float* dh = p.DH + r0 * p.H;
        var k = new RnnBackwardKernel { Width = p.Width, H = p.H, Relu = relu, HOut = p.YAt(t) + r0 * p.LdY, LdH = p.LdY, DH = dh, LdDH = p.H, DGates = dg, LdDGates = p.H };
        RowJob<RnnBackwardKernel>.Run(k, m, 2 * p.H);
        // dh_{t-1} = dG W_hh   (from G = ... + h_{t-1} W_hh^T)
        StepGemm(m, dg, p.H, p.WhhN, p.Whh, Transpose.No, p.H, p.H, 0f, dh, p.H, p.Width);
    }
}

/// <summary>LSTM cell, gates i, f, g, o (see <see cref="LstmForwardKernel"/>).</summary>
internal sealed unsafe class LstmCell : RecurrentCell
{
    public override int GateCount => 4;

    public override void Forward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        int ld = 4 * p.H;
        float* g = p.GatesAt(t);
        AddRecurrentProjection(p, t, prev, g, ld);
        foreach (var r in prev)
        {
            long o = r.R0;
            var k = new LstmForwardKernel
            {
                Width = p.Width, H = p.H,
                Gates = g + o * ld, LdGates = ld,
                CPrev = r.C, LdCPrev = r.LdC,
                C = p.StateAt(p.C, t) + o * p.H, LdC = p.H,
                TanhC = p.TanhC == null ? null : p.StateAt(p.TanhC, t) + o * p.H, LdTanhC = p.H,
                HOut = p.YAt(t) + o * p.LdY, LdH = p.LdY,
            };
            RowJob<LstmForwardKernel>.Run(k, r.R1 - r.R0, 40 * p.H);
        }
    }

    public override void Backward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        int ld = 4 * p.H;
        float* dg = p.DGatesAt(t);
        foreach (var r in prev)
        {
            long o = r.R0;
            var k = new LstmBackwardKernel
            {
                Width = p.Width, H = p.H,
                Gates = p.GatesAt(t) + o * ld, LdGates = ld,
                CPrev = r.C, LdCPrev = r.LdC,
                TanhC = p.StateAt(p.TanhC, t) + o * p.H, LdTanhC = p.H,
                DH = p.DH + o * p.H, LdDH = p.H,
                DC = p.DC + o * p.H, LdDC = p.H,
                DGates = dg + o * ld, LdDGates = ld,
            };
            RowJob<LstmBackwardKernel>.Run(k, r.R1 - r.R0, 12 * p.H);
        }
        // dh_{t-1} = dG W_hh   (from G = ... + h_{t-1} W_hh^T)
        long r0 = prev[0].R0;
        StepGemm(prev[^1].R1 - prev[0].R0, dg + r0 * ld, ld, p.WhhN, p.Whh, Transpose.No, ld, p.H, 0f, p.DH + r0 * p.H, p.H, p.Width);
    }
}

/// <summary>GRU cell, gates r, z, n with r applied to (W_hn h + b_hn) (see <see cref="GruForwardKernel"/>).</summary>
internal sealed unsafe class GruCell : RecurrentCell
{
    public override int GateCount => 3;
    public override bool FoldsRecurrentBias => false;

    public override void Forward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        int ld = 3 * p.H;
        float* g = p.GatesAt(t);
        // GhStep[rows] = hPrev W_hh^T (no bias: the kernel adds b_hh, since r multiplies W_hn h + b_hn).
        foreach (var r in prev)
        {
            float* gh = p.GhStep + (long)r.R0 * ld;
            if (r.HZero) new Span<float>(gh, (r.R1 - r.R0) * ld).Clear();
            else StepGemm(r.R1 - r.R0, r.H, r.LdH, p.WhhT, p.Whh, Transpose.Yes, p.H, ld, 0f, gh, ld, p.Width);
        }
        foreach (var r in prev)
        {
            long o = r.R0;
            var k = new GruForwardKernel
            {
                Width = p.Width, H = p.H,
                Gx = g + o * ld, LdGx = ld,
                Gh = p.GhStep + o * ld, LdGh = ld,
                BiasHh = p.Bhh,
                HPrev = r.H, LdHPrev = r.LdH,
                Hn = p.Hn == null ? null : p.StateAt(p.Hn, t) + o * p.H, LdHn = p.H,
                HOut = p.YAt(t) + o * p.LdY, LdH = p.LdY,
            };
            RowJob<GruForwardKernel>.Run(k, r.R1 - r.R0, 30 * p.H);
        }
    }

    public override void Backward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        int ld = 3 * p.H;
        float* dgh = p.DGatesHAt(t);
        foreach (var r in prev)
        {
            long o = r.R0;
            var k = new GruBackwardKernel
            {
                Width = p.Width, H = p.H,
                Gates = p.GatesAt(t) + o * ld, LdGates = ld,
                Hn = p.StateAt(p.Hn, t) + o * p.H, LdHn = p.H,
                HPrev = r.H, LdHPrev = r.LdH,
                DH = p.DH + o * p.H, LdDH = p.H,
                DGx = p.DGatesAt(t) + o * ld, LdDGx = ld,
                DGh = dgh + o * ld, LdDGh = ld,
                DHPrev = p.DH + o * p.H, LdDHPrev = p.H,
            };
            RowJob<GruBackwardKernel>.Run(k, r.R1 - r.R0, 12 * p.H);
        }
        // dh_{t-1} = dh * z (set by the kernel) + dGh W_hh
        long r0 = prev[0].R0;
        StepGemm(prev[^1].R1 - prev[0].R0, dgh + r0 * ld, ld, p.WhhN, p.Whh, Transpose.No, ld, p.H, 1f, p.DH + r0 * p.H, p.H, p.Width);
    }
}
