using System.Runtime.CompilerServices;

namespace Recur.Kernels;

/// <summary>
/// Fused GRU gate update for one time step over a block of rows (PyTorch gate order r, z, n).
/// <code>
/// r  = sigmoid(Gx[0:H]   + Gh[0:H]   + bh[0:H])
/// z  = sigmoid(Gx[H:2H]  + Gh[H:2H]  + bh[H:2H])
/// hn = Gh[2H:3H] + bh[2H:3H]                 (W_hn h + b_hn, which r multiplies)
/// n  = tanh(Gx[2H:3H] + r * hn)
/// h  = (1 - z) * n + z * hPrev  =  n + z * (hPrev - n)
/// </code>
/// Gx = x W_ih^T (+ b_ih, added here when <see cref="BiasIh"/> is given, before anything else touches it, so the sums
/// are those of adding it in a separate pass) holds pre-activations on entry and r, z, n on exit; Gh = h W_hh^T
/// without bias.
/// </summary>
internal unsafe struct GruForwardKernel : IRowKernel, IVectorKernel
{
    public SimdWidth Width;
    public int H;
    /// <summary>(rows, 3H): input part of the pre-activations in; r, z, n out.</summary>
    public float* Gx; public int LdGx;
    /// <summary>(3H): b_ih, added to Gx as it is read; null when Gx holds it already or the layer has no bias.</summary>
    public float* BiasIh;
    /// <summary>(rows, 3H): h_{t-1} W_hh^T, without bias.</summary>
    public float* Gh; public int LdGh;
    /// <summary>(3H): b_hh, or null for a layer without bias.</summary>
    public float* BiasHh;
    /// <summary>(rows, H): h_{t-1}. May alias <see cref="HOut"/>.</summary>
    public float* HPrev; public int LdHPrev;
    /// <summary>(rows, H): W_hn h + b_hn out, kept for backward; null when not needed.</summary>
    public float* Hn; public int LdHn;
    /// <summary>(rows, H): h_t out.</summary>
    public float* HOut; public int LdH;

    public void Run(int r0, int r1) => VectorKernel.Run(ref this, Width, r0, r1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Rows<TS, TV>(int r0, int r1) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int r = r0; r < r1; r++)
        {
            float* gx = Gx + (long)r * LdGx;
            float* gh = Gh + (long)r * LdGh;
            float* hp = HPrev + (long)r * LdHPrev;
            float* hn = Hn == null ? null : Hn + (long)r * LdHn;
            float* h = HOut + (long)r * LdH;
            int j = Columns<TS, TV>(gx, BiasIh, gh, BiasHh, hp, hn, h, H, 0);
            Columns<Simd1, float>(gx, BiasIh, gh, BiasHh, hp, hn, h, H, j);
        }
    }

    private static int Columns<TS, TV>(float* gx, float* bi, float* gh, float* bh, float* hp, float* hn, float* h, int hidden, int j)
        where TS : struct, ISimd<TV> where TV : struct
    {
        for (; j + TS.Count <= hidden; j += TS.Count)
        {
            TV xr = TS.Load(gx + j), xz = TS.Load(gx + hidden + j), xn = TS.Load(gx + 2 * hidden + j);
            if (bi != null)
            {
                xr = TS.Add(xr, TS.Load(bi + j));
                xz = TS.Add(xz, TS.Load(bi + hidden + j));
                xn = TS.Add(xn, TS.Load(bi + 2 * hidden + j));
            }
            TV hr = TS.Load(gh + j), hz = TS.Load(gh + hidden + j), hh = TS.Load(gh + 2 * hidden + j);
            if (bh != null)
            {
                hr = TS.Add(hr, TS.Load(bh + j));
                hz = TS.Add(hz, TS.Load(bh + hidden + j));
                hh = TS.Add(hh, TS.Load(bh + 2 * hidden + j));
            }
            TV r = SimdMath<TS, TV>.Sigmoid(TS.Add(xr, hr));
            TV z = SimdMath<TS, TV>.Sigmoid(TS.Add(xz, hz));
            TV n = SimdMath<TS, TV>.Tanh(TS.MulAdd(r, hh, xn));
            TV prev = TS.Load(hp + j);
            TS.Store(gx + j, r);
            TS.Store(gx + hidden + j, z);
            TS.Store(gx + 2 * hidden + j, n);
            if (hn != null) TS.Store(hn + j, hh);
            TS.Store(h + j, TS.MulAdd(z, TS.Sub(prev, n), n));
        }
        return j;
    }
}

/// <summary>
/// Backward of <see cref="GruForwardKernel"/> for one time step over a block of rows.
/// <code>
/// dn = dh * (1 - z)          dz = dh * (hPrev - n)         dhPrev (direct) = dh * z
/// dnPre = dn * (1 - n^2)     dzPre = dz * z (1 - z)
/// dr = dnPre * hn            drPre = dr * r (1 - r)
/// dGx = [drPre, dzPre, dnPre]          (gradient of x W_ih^T + b_ih)
/// dGh = [drPre, dzPre, dnPre * r]      (gradient of h W_hh^T + b_hh)
/// </code>
/// The recurrent part of dhPrev, dGh W_hh, is added by the caller's GEMM.
/// </summary>
internal unsafe struct GruBackwardKernel : IRowKernel, IVectorKernel
{
    public SimdWidth Width;
    public int H;
    /// <summary>(rows, 3H): r, z, n saved by forward.</summary>
    public float* Gates; public int LdGates;
    /// <summary>(rows, H): W_hn h + b_hn saved by forward.</summary>
    public float* Hn; public int LdHn;
    /// <summary>(rows, H): h_{t-1}.</summary>
    public float* HPrev; public int LdHPrev;
    /// <summary>(rows, H): dL/dh_t, everything that reaches h_t.</summary>
    public float* DH; public int LdDH;
    /// <summary>(rows, 3H): gradient of the input pre-activations out.</summary>
    public float* DGx; public int LdDGx;
    /// <summary>(rows, 3H): gradient of the recurrent pre-activations out.</summary>
    public float* DGh; public int LdDGh;
    /// <summary>
    /// (rows, D*H) or null: the output's own gradient dL/dY_t, added to <see cref="DH"/> row by row before the step's
    /// backward (DH then holds everything that reaches h_t). Null when DH already holds it.
    /// </summary>
    public float* DY; public int LdDY;
    /// <summary>(rows, H): the direct part of dL/dh_{t-1} out. May alias <see cref="DH"/>.</summary>
    public float* DHPrev; public int LdDHPrev;

    public void Run(int r0, int r1) => VectorKernel.Run(ref this, Width, r0, r1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Rows<TS, TV>(int r0, int r1) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int r = r0; r < r1; r++)
        {
            float* g = Gates + (long)r * LdGates;
            float* hn = Hn + (long)r * LdHn;
            float* hp = HPrev + (long)r * LdHPrev;
            float* dh = DH + (long)r * LdDH;
            if (DY != null) VectorKernel.AddInPlace<TS, TV>(dh, DY + (long)r * LdDY, H);
            float* dgx = DGx + (long)r * LdDGx;
            float* dgh = DGh + (long)r * LdDGh;
            float* dhp = DHPrev + (long)r * LdDHPrev;
            int j = Columns<TS, TV>(g, hn, hp, dh, dgx, dgh, dhp, H, 0);
            Columns<Simd1, float>(g, hn, hp, dh, dgx, dgh, dhp, H, j);
        }
    }

    private static int Columns<TS, TV>(float* g, float* hn, float* hp, float* dh, float* dgx, float* dgh, float* dhp, int hidden, int j)
        where TS : struct, ISimd<TV> where TV : struct
    {
        TV one = TS.Broadcast(1f);
        for (; j + TS.Count <= hidden; j += TS.Count)
        {
            TV r = TS.Load(g + j), z = TS.Load(g + hidden + j), n = TS.Load(g + 2 * hidden + j);
            TV d = TS.Load(dh + j);
            TV dnPre = TS.Mul(TS.Mul(d, TS.Sub(one, z)), TS.Sub(one, TS.Mul(n, n)));
            TV dzPre = TS.Mul(TS.Mul(d, TS.Sub(TS.Load(hp + j), n)), TS.Mul(z, TS.Sub(one, z)));
            TV drPre = TS.Mul(TS.Mul(dnPre, TS.Load(hn + j)), TS.Mul(r, TS.Sub(one, r)));
            TS.Store(dgx + j, drPre);
            TS.Store(dgx + hidden + j, dzPre);
            TS.Store(dgx + 2 * hidden + j, dnPre);
            TS.Store(dgh + j, drPre);
            TS.Store(dgh + hidden + j, dzPre);
            TS.Store(dgh + 2 * hidden + j, TS.Mul(dnPre, r));
            TS.Store(dhp + j, TS.Mul(d, z));
        }
        return j;
    }
}
