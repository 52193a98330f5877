namespace Recur.Kernels.Recurrent;

/// <summary>
/// One time step of a recurrent cell over the rows still running, forward and backward. A cell holds no state:
/// everything lives in the <see cref="DirectionPass"/> buffers. The time loop, stacking, the reverse direction
/// and variable lengths are the runner's business (<see cref="RecurrentRunner"/>), shared by every cell.
/// </summary>
internal abstract unsafe class RecurrentCell
{
    /// <summary>Number of gates G: rows of W_ih and W_hh are G*H.</summary>
    public abstract int GateCount { get; }

    /// <summary>Whether b_hh is summed with b_ih into the bias the forward kernel adds to the gates (every cell but the GRU, whose b_hn sits inside r * (W_hn h + b_hn)).</summary>
    public virtual bool FoldsRecurrentBias => true;

    /// <summary>
    /// Step t for the rows that <paramref name="prev"/> covers (contiguous ranges, in order, each with where its
    /// previous state lives). On entry Gates[t] holds x W_ih^T (the kernel adds <see cref="DirectionPass.GateBias"/>); on exit the step's outputs are
    /// written to Y[t] and whatever backward needs is saved. Rows are independent, so the time loop may run
    /// disjoint row blocks of one step in parallel.
    /// </summary>
    public abstract void Forward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev);

    /// <summary>
    /// Backward of step t for the rows <paramref name="prev"/> covers. On entry DH holds what flowed back to h_t from
    /// step t+1 (the kernel adds the output's own gradient DY[t] row by row) and DC dL/dc_t;
    /// on exit DGates[t] (and DGatesH[t]) hold the pre-activation gradients and DH (and DC) the gradient for step
    /// t's predecessor.
    /// </summary>
    public abstract void Backward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev);

    /// <summary>Which cell this is.</summary>
    public abstract CellKind Kind { get; }

    /// <summary>The cell of a kind (cells hold no state, so one instance serves any number of passes).</summary>
    public static RecurrentCell For(CellKind kind) => kind switch
    {
        CellKind.RnnTanh => new RnnCell(relu: false),
        CellKind.RnnRelu => new RnnCell(relu: true),
        CellKind.Lstm => new LstmCell(),
        CellKind.Gru => new GruCell(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown recurrent cell"),
    };

    /// <summary>
    /// <c>C[rows] = (beta ? C : 0) + A[rows] * op(W)</c> for one step: the packed right-hand side when there is one
    /// and the whole step (<paramref name="fullRows"/>, not this block's <paramref name="rows"/>) takes it
    /// (<see cref="Gemm.TakesPacked"/>: more than 4 rows, or one), otherwise the unpacked skinny path straight from W. The two paths sum over K in different orders, so the
    /// choice must not depend on how the step was cut into blocks: that depends on the thread count.
    /// </summary>
    protected internal static void StepGemm(int rows, int fullRows, float* a, int lda, PackedMatrix? packed, float* w, Transpose transW,
        int k, int n, float beta, float* c, int ldc, SimdWidth width)
    {
        if (rows <= 0) return;
        if (packed is not null && Gemm.TakesPacked(fullRows))
            Gemm.MultiplyPacked(Transpose.No, rows, 1f, a, lda, packed, beta, c, ldc);
        else
            Gemm.Multiply(width, Transpose.No, transW, rows, n, k, 1f, a, lda, w, transW == Transpose.Yes ? k : n, beta, c, ldc);
    }

    /// <summary>
    /// target[rows] = beta * target[rows] + prev(rows) W_hh^T for every range, where prev is the previous hidden state (R wide),
    /// times the variational recurrent-dropout mask when there is one. Ranges whose previous state is zero
    /// contribute nothing (with beta = 0 their rows are cleared).
    /// </summary>
    protected static void RecurrentProjection(DirectionPass p, ReadOnlySpan<PrevRange> prev, float* target, int ldTarget, float beta)
    {
        int gh = p.G * p.H;
        foreach (var r in prev)
        {
            int rows = r.R1 - r.R0;
            float* t = target + (long)r.R0 * ldTarget;
            if (r.HZero)
            {
                if (beta == 0f)
                    for (int i = 0; i < rows; i++) new Span<float>(t + (long)i * ldTarget, gh).Clear();
                continue;
            }
            float* a = r.H;
            int lda = r.LdH;
            if (p.RecurrentMask != null)
            {
                // h_prev * M, with M fixed per sequence for the whole pass (Gal and Ghahramani's variational dropout).
                a = p.MaskedPrev + (long)r.R0 * p.R;
                lda = p.R;
                for (int i = 0; i < rows; i++)
                    TensorPrimitives.Multiply(new ReadOnlySpan<float>(r.H + (long)i * r.LdH, p.R),
                        new ReadOnlySpan<float>(p.RecurrentMask + (long)(r.R0 + i) * p.R, p.R), new Span<float>(a + (long)i * p.R, p.R));
            }
            StepGemm(rows, r.FullRows, a, lda, p.WhhT, p.Whh, Transpose.Yes, p.R, gh, beta, t, ldTarget, p.Width);
        }
    }

    /// <summary>
    /// DH[rows] = beta * DH[rows] + (dGh[rows] W_hh) (* M): the gradient reaching the previous hidden state through the
    /// recurrent product (through the same recurrent-dropout mask as forward), for rows [r0, r1) of step t. The product
    /// path goes by the step's running rows (Active[t]), whichever block of them this is.
    /// </summary>
    protected static void RecurrentGradient(DirectionPass p, int t, int r0, int r1, float* dgh, int ldG, float beta)
    {
        int rows = r1 - r0;
        if (rows <= 0) return;
        float* dh = p.DH + (long)r0 * p.R;
        if (p.RecurrentMask == null)
        {
            StepGemm(rows, p.Active[t], dgh + (long)r0 * ldG, ldG, p.WhhN, p.Whh, Transpose.No, p.G * p.H, p.R, beta, dh, p.R, p.Width);
            return;
        }
        float* tmp = p.MaskedPrev + (long)r0 * p.R;
        StepGemm(rows, p.Active[t], dgh + (long)r0 * ldG, ldG, p.WhhN, p.Whh, Transpose.No, p.G * p.H, p.R, 0f, tmp, p.R, p.Width);
        for (int i = 0; i < rows; i++)
        {
            var d = new Span<float>(dh + (long)i * p.R, p.R);
            var masked = new Span<float>(tmp + (long)i * p.R, p.R);
            TensorPrimitives.Multiply(masked, new ReadOnlySpan<float>(p.RecurrentMask + (long)(r0 + i) * p.R, p.R), masked);
            if (beta == 0f) masked.CopyTo(d);
            else TensorPrimitives.Add(d, masked, d);
        }
    }
}

/// <summary>Elman RNN cell: h = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.</summary>
internal sealed unsafe class RnnCell(bool relu) : RecurrentCell
{
    public override int GateCount => 1;
    public override CellKind Kind => relu ? CellKind.RnnRelu : CellKind.RnnTanh;

    public override void Forward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        float* g = p.GatesAt(t);
        RecurrentProjection(p, prev, g, p.H, 1f);
        long r0 = prev[0].R0;
        var k = new RnnForwardKernel { Width = p.Width, H = p.H, Relu = relu, Gates = g + r0 * p.H, LdGates = p.H, Bias = p.GateBias, HOut = p.YAt(t) + r0 * p.LdY, LdH = p.LdY };
        RowJob<RnnForwardKernel>.Run(k, prev[^1].R1 - prev[0].R0, 8 * p.H);
    }

    public override void Backward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        long r0 = prev[0].R0;
        int m = prev[^1].R1 - prev[0].R0;
        float* dg = p.DGatesAt(t) + r0 * p.H;
        float* dh = p.DH + r0 * p.H;
        var k = new RnnBackwardKernel { Width = p.Width, H = p.H, Relu = relu, HOut = p.YAt(t) + r0 * p.LdY, LdH = p.LdY, DH = dh, LdDH = p.H, DY = p.DYAt(t) + r0 * p.LdY, LdDY = p.LdY, DGates = dg, LdDGates = p.H };
        RowJob<RnnBackwardKernel>.Run(k, m, 2 * p.H);
        // dh_{t-1} = dG W_hh   (from G = ... + h_{t-1} W_hh^T)
        RecurrentGradient(p, t, (int)r0, (int)r0 + m, p.DGatesAt(t), p.H, 0f);
    }
}

/// <summary>LSTM cell, gates i, f, g, o (see <see cref="LstmForwardKernel"/>).</summary>
internal sealed unsafe class LstmCell : RecurrentCell
{
    public override int GateCount => 4;
    public override CellKind Kind => CellKind.Lstm;

    public override void Forward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        int ld = 4 * p.H;
        float* g = p.GatesAt(t);
        RecurrentProjection(p, prev, g, ld, 1f);
        bool projected = p.M != null;
        foreach (var r in prev)
        {
            long o = r.R0;
            var k = new LstmForwardKernel
            {
                Width = p.Width, H = p.H,
                Gates = g + o * ld, LdGates = ld, Bias = p.GateBias,
                CPrev = r.C, LdCPrev = r.LdC,
                C = p.StateAt(p.C, t) + o * p.H, LdC = p.H,
                TanhC = p.TanhC == null ? null : p.StateAt(p.TanhC, t) + o * p.H, LdTanhC = p.H,
                // With a projection the kernel's o * tanh(c) is m_t, and h_t = m_t W_hr^T below.
                HOut = projected ? p.StateAt(p.M, t) + o * p.H : p.YAt(t) + o * p.LdY, LdH = projected ? p.H : p.LdY,
            };
            RowJob<LstmForwardKernel>.Run(k, r.R1 - r.R0, 40 * p.H);
            if (projected)
                StepGemm(r.R1 - r.R0, r.FullRows, p.StateAt(p.M, t) + o * p.H, p.H, p.WhrT, p.Whr, Transpose.Yes, p.H, p.R, 0f,
                    p.YAt(t) + o * p.LdY, p.LdY, p.Width);
        }
    }

    public override void Backward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        int ld = 4 * p.H;
        float* dg = p.DGatesAt(t);
        bool projected = p.M != null;
        if (projected)
        {
            // dh_t = DH + dY[t] (kept for dW_hr = sum_t dh_t^T m_t), then dm_t = dh_t W_hr feeds the cell's backward.
            int r0 = prev[0].R0, r1 = prev[^1].R1;
            for (int r = r0; r < r1; r++)
                TensorPrimitives.Add(new ReadOnlySpan<float>(p.DH + (long)r * p.R, p.R), new ReadOnlySpan<float>(p.DYAt(t) + (long)r * p.LdY, p.R),
                    new Span<float>(p.DHAllAt(t) + (long)r * p.R, p.R));
            StepGemm(r1 - r0, p.Active[t], p.DHAllAt(t) + (long)r0 * p.R, p.R, p.WhrN, p.Whr, Transpose.No, p.R, p.H, 0f,
                p.DM + (long)r0 * p.H, p.H, p.Width);
        }
        foreach (var r in prev)
        {
            long o = r.R0;
            var k = new LstmBackwardKernel
            {
                Width = p.Width, H = p.H,
                Gates = p.GatesAt(t) + o * ld, LdGates = ld,
                CPrev = r.C, LdCPrev = r.LdC,
                TanhC = p.StateAt(p.TanhC, t) + o * p.H, LdTanhC = p.H,
                DH = projected ? p.DM + o * p.H : p.DH + o * p.H, LdDH = p.H,
                DY = projected ? null : p.DYAt(t) + o * p.LdY, LdDY = p.LdY,
                DC = p.DC + o * p.H, LdDC = p.H,
                DGates = dg + o * ld, LdDGates = ld,
            };
            RowJob<LstmBackwardKernel>.Run(k, r.R1 - r.R0, 12 * p.H);
        }
        // dh_{t-1} = dG W_hh   (from G = ... + h_{t-1} W_hh^T)
        RecurrentGradient(p, t, prev[0].R0, prev[^1].R1, dg, ld, 0f);
    }
}

/// <summary>GRU cell, gates r, z, n with r applied to (W_hn h + b_hn) (see <see cref="GruForwardKernel"/>).</summary>
internal sealed unsafe class GruCell : RecurrentCell
{
    public override int GateCount => 3;
    public override CellKind Kind => CellKind.Gru;
    public override bool FoldsRecurrentBias => false;

    public override void Forward(DirectionPass p, int t, ReadOnlySpan<PrevRange> prev)
    {
        int ld = 3 * p.H;
        float* g = p.GatesAt(t);
        // GhStep[rows] = hPrev W_hh^T (no bias: the kernel adds b_hh, since r multiplies W_hn h + b_hn).
        RecurrentProjection(p, prev, p.GhStep, ld, 0f);
        foreach (var r in prev)
        {
            long o = r.R0;
            var k = new GruForwardKernel
            {
                Width = p.Width, H = p.H,
                Gx = g + o * ld, LdGx = ld, BiasIh = p.GateBias,
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
                DY = p.DYAt(t) + o * p.LdY, LdDY = p.LdY,
                DGx = p.DGatesAt(t) + o * ld, LdDGx = ld,
                DGh = dgh + o * ld, LdDGh = ld,
                DHPrev = p.DH + o * p.H, LdDHPrev = p.H,
            };
            RowJob<GruBackwardKernel>.Run(k, r.R1 - r.R0, 12 * p.H);
        }
        // dh_{t-1} = dh * z (set by the kernel) + dGh W_hh
        RecurrentGradient(p, t, prev[0].R0, prev[^1].R1, dgh, ld, 1f);
    }
}
