using System.Runtime.CompilerServices;

namespace Recur.Kernels;

/// <summary>
/// Fused LSTM gate update for one time step over a block of rows (PyTorch gate order i, f, g, o).
/// <code>
/// i = sigmoid(G[0:H])   f = sigmoid(G[H:2H])   g = tanh(G[2H:3H])   o = sigmoid(G[3H:4H])
/// c = f * cPrev + i * g
/// h = o * tanh(c)
/// </code>
/// G holds the pre-activations on entry (x W_ih^T + h W_hh^T, plus b_ih + b_hh unless <see cref="Bias"/> adds them
/// here) and the activations i, f, g, o on exit, which the backward pass reads.
/// </summary>
internal unsafe struct LstmForwardKernel : IRowKernel, IVectorKernel
{
    public SimdWidth Width;
    public int H;
    /// <summary>(rows, 4H): pre-activations in, activations out.</summary>
    public float* Gates; public int LdGates;
    /// <summary>
    /// (4H): b_ih + b_hh, added to each pre-activation as it is read (one add per element, so the separate pass over
    /// the gates is gone); null when the gates hold the biases already or the layer has none.
    /// </summary>
    public float* Bias;
    /// <summary>(rows, H): c_{t-1}.</summary>
    public float* CPrev; public int LdCPrev;
    /// <summary>(rows, H): c_t out. May alias <see cref="CPrev"/>.</summary>
    public float* C; public int LdC;
    /// <summary>(rows, H): tanh(c_t) out, kept for backward; null when not needed.</summary>
    public float* TanhC; public int LdTanhC;
    /// <summary>(rows, H): h_t out.</summary>
    public float* HOut; public int LdH;

    public void Run(int r0, int r1) => VectorKernel.Run(ref this, Width, r0, r1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Rows<TS, TV>(int r0, int r1) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int r = r0; r < r1; r++)
        {
            float* g = Gates + (long)r * LdGates;
            float* cp = CPrev + (long)r * LdCPrev;
            float* c = C + (long)r * LdC;
            float* tc = TanhC == null ? null : TanhC + (long)r * LdTanhC;
            float* h = HOut + (long)r * LdH;
            int j = Columns<TS, TV>(g, Bias, cp, c, tc, h, H, 0);
            Columns<Simd1, float>(g, Bias, cp, c, tc, h, H, j);
        }
    }

    /// <summary>Processes whole vectors of columns from <paramref name="j"/>; returns where it stopped.</summary>
    private static int Columns<TS, TV>(float* g, float* b, float* cp, float* c, float* tc, float* h, int hidden, int j)
        where TS : struct, ISimd<TV> where TV : struct
    {
        for (; j + TS.Count <= hidden; j += TS.Count)
        {
            TV pi = TS.Load(g + j), pf = TS.Load(g + hidden + j), pg = TS.Load(g + 2 * hidden + j), po = TS.Load(g + 3 * hidden + j);
            if (b != null)
            {
                pi = TS.Add(pi, TS.Load(b + j));
                pf = TS.Add(pf, TS.Load(b + hidden + j));
                pg = TS.Add(pg, TS.Load(b + 2 * hidden + j));
                po = TS.Add(po, TS.Load(b + 3 * hidden + j));
            }
            TV i = SimdMath<TS, TV>.Sigmoid(pi);
            TV f = SimdMath<TS, TV>.Sigmoid(pf);
            TV gg = SimdMath<TS, TV>.Tanh(pg);
            TV o = SimdMath<TS, TV>.Sigmoid(po);
            TV cn = TS.MulAdd(f, TS.Load(cp + j), TS.Mul(i, gg));
            TV t = SimdMath<TS, TV>.Tanh(cn);
            TS.Store(g + j, i);
            TS.Store(g + hidden + j, f);
            TS.Store(g + 2 * hidden + j, gg);
            TS.Store(g + 3 * hidden + j, o);
            TS.Store(c + j, cn);
            if (tc != null) TS.Store(tc + j, t);
            TS.Store(h + j, TS.Mul(o, t));
        }
        return j;
    }
}

/// <summary>
/// Backward of <see cref="LstmForwardKernel"/> for one time step over a block of rows.
/// <code>
/// do = dh * tanh(c)                       (from h = o * tanh(c))
/// dc = dcNext + dh * o * (1 - tanh(c)^2)  (from h = o * tanh(c), plus the path through c_{t+1})
/// di = dc * g,  df = dc * cPrev,  dg = dc * i
/// dcPrev = dc * f                         (from c = f * cPrev + i * g)
/// dG = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]   (through the activations)
/// </code>
/// </summary>
internal unsafe struct LstmBackwardKernel : IRowKernel, IVectorKernel
{
    public SimdWidth Width;
    public int H;
    /// <summary>(rows, 4H): activations i, f, g, o saved by forward.</summary>
    public float* Gates; public int LdGates;
    /// <summary>(rows, H): c_{t-1}.</summary>
    public float* CPrev; public int LdCPrev;
    /// <summary>(rows, H): tanh(c_t) saved by forward.</summary>
    public float* TanhC; public int LdTanhC;
    /// <summary>(rows, H): dL/dh_t, everything that reaches h_t.</summary>
    public float* DH; public int LdDH;
    /// <summary>
    /// (rows, D*H) or null: the output's own gradient dL/dY_t, added to <see cref="DH"/> row by row before the step's
    /// backward (DH then holds everything that reaches h_t). Null when DH already holds it.
    /// </summary>
    public float* DY; public int LdDY;
    /// <summary>(rows, H): dL/dc_t from step t+1 in, dL/dc_{t-1} out.</summary>
    public float* DC; public int LdDC;
    /// <summary>(rows, 4H): gradient of the pre-activations out.</summary>
    public float* DGates; public int LdDGates;

    public void Run(int r0, int r1) => VectorKernel.Run(ref this, Width, r0, r1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Rows<TS, TV>(int r0, int r1) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int r = r0; r < r1; r++)
        {
            float* g = Gates + (long)r * LdGates;
            float* cp = CPrev + (long)r * LdCPrev;
            float* tc = TanhC + (long)r * LdTanhC;
            float* dh = DH + (long)r * LdDH;
            if (DY != null) VectorKernel.AddInPlace<TS, TV>(dh, DY + (long)r * LdDY, H);
            float* dc = DC + (long)r * LdDC;
            float* dg = DGates + (long)r * LdDGates;
            int j = Columns<TS, TV>(g, cp, tc, dh, dc, dg, H, 0);
            Columns<Simd1, float>(g, cp, tc, dh, dc, dg, H, j);
        }
    }

    private static int Columns<TS, TV>(float* g, float* cp, float* tc, float* dh, float* dc, float* dg, int hidden, int j)
        where TS : struct, ISimd<TV> where TV : struct
    {
        TV one = TS.Broadcast(1f);
        for (; j + TS.Count <= hidden; j += TS.Count)
        {
            TV i = TS.Load(g + j);
            TV f = TS.Load(g + hidden + j);
            TV gg = TS.Load(g + 2 * hidden + j);
            TV o = TS.Load(g + 3 * hidden + j);
            TV t = TS.Load(tc + j);
            TV dhv = TS.Load(dh + j);
            TV dct = TS.MulAdd(TS.Mul(dhv, o), TS.Sub(one, TS.Mul(t, t)), TS.Load(dc + j));
            TV dO = TS.Mul(TS.Mul(dhv, t), TS.Mul(o, TS.Sub(one, o)));
            TV dI = TS.Mul(TS.Mul(dct, gg), TS.Mul(i, TS.Sub(one, i)));
            TV dF = TS.Mul(TS.Mul(dct, TS.Load(cp + j)), TS.Mul(f, TS.Sub(one, f)));
            TV dG = TS.Mul(TS.Mul(dct, i), TS.Sub(one, TS.Mul(gg, gg)));
            TS.Store(dg + j, dI);
            TS.Store(dg + hidden + j, dF);
            TS.Store(dg + 2 * hidden + j, dG);
            TS.Store(dg + 3 * hidden + j, dO);
            TS.Store(dc + j, TS.Mul(dct, f));
        }
        return j;
    }
}
