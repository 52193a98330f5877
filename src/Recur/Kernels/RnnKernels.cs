using System.Runtime.CompilerServices;

namespace Recur.Kernels;

/// <summary>
/// Elman RNN update for one time step over a block of rows: <c>h = act(G)</c> with act = tanh or relu,
/// where G = x W_ih^T + h W_hh^T + b_ih + b_hh (the biases added here when <see cref="Bias"/> is given).
/// </summary>
internal unsafe struct RnnForwardKernel : IRowKernel, IVectorKernel
{
    public SimdWidth Width;
    public int H;
    public bool Relu;
    /// <summary>(rows, H): pre-activations.</summary>
    public float* Gates; public int LdGates;
    /// <summary>(H): b_ih + b_hh, added to each pre-activation as it is read; null when the gates hold them already or the layer has none.</summary>
    public float* Bias;
    /// <summary>(rows, H): h_t out. May alias <see cref="Gates"/>.</summary>
    public float* HOut; public int LdH;

    public void Run(int r0, int r1) => VectorKernel.Run(ref this, Width, r0, r1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Rows<TS, TV>(int r0, int r1) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int r = r0; r < r1; r++)
        {
            float* g = Gates + (long)r * LdGates;
            float* h = HOut + (long)r * LdH;
            int j = Columns<TS, TV>(g, Bias, h, H, Relu, 0);
            Columns<Simd1, float>(g, Bias, h, H, Relu, j);
        }
    }

    private static int Columns<TS, TV>(float* g, float* b, float* h, int hidden, bool relu, int j)
        where TS : struct, ISimd<TV> where TV : struct
    {
        for (; j + TS.Count <= hidden; j += TS.Count)
        {
            TV x = TS.Load(g + j);
            if (b != null) x = TS.Add(x, TS.Load(b + j));
            TS.Store(h + j, relu ? SimdMath<TS, TV>.Relu(x) : SimdMath<TS, TV>.Tanh(x));
        }
        return j;
    }
}

/// <summary>
/// Backward of <see cref="RnnForwardKernel"/>: <c>dG = dh * act'(G)</c>, written from the output h:
/// tanh' = 1 - h^2, relu' = (h &gt; 0).
/// </summary>
internal unsafe struct RnnBackwardKernel : IRowKernel, IVectorKernel
{
    public SimdWidth Width;
    public int H;
    public bool Relu;
    /// <summary>(rows, H): h_t saved by forward.</summary>
    public float* HOut; public int LdH;
    /// <summary>(rows, H): dL/dh_t.</summary>
    public float* DH; public int LdDH;
    /// <summary>
    /// (rows, D*H) or null: the output's own gradient dL/dY_t, added to <see cref="DH"/> row by row before the step's
    /// backward (DH then holds everything that reaches h_t). Null when DH already holds it.
    /// </summary>
    public float* DY; public int LdDY;
    /// <summary>(rows, H): gradient of the pre-activations out. May alias <see cref="DH"/>.</summary>
    public float* DGates; public int LdDGates;

    public void Run(int r0, int r1) => VectorKernel.Run(ref this, Width, r0, r1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Rows<TS, TV>(int r0, int r1) where TS : struct, ISimd<TV> where TV : struct
    {
        for (int r = r0; r < r1; r++)
        {
            float* h = HOut + (long)r * LdH;
            float* dh = DH + (long)r * LdDH;
            if (DY != null) VectorKernel.AddInPlace<TS, TV>(dh, DY + (long)r * LdDY, H);
            float* dg = DGates + (long)r * LdDGates;
            int j = Columns<TS, TV>(h, dh, dg, H, Relu, 0);
            Columns<Simd1, float>(h, dh, dg, H, Relu, j);
        }
    }

    private static int Columns<TS, TV>(float* h, float* dh, float* dg, int hidden, bool relu, int j)
        where TS : struct, ISimd<TV> where TV : struct
    {
        if (relu)
        {
            for (; j + TS.Count <= hidden; j += TS.Count)
                TS.Store(dg + j, TS.WherePositive(TS.Load(h + j), TS.Load(dh + j)));
        }
        else
        {
            TV one = TS.Broadcast(1f);
            for (; j + TS.Count <= hidden; j += TS.Count)
            {
                TV hv = TS.Load(h + j);
                TS.Store(dg + j, TS.Mul(TS.Load(dh + j), TS.Sub(one, TS.Mul(hv, hv))));
            }
        }
        return j;
    }
}
