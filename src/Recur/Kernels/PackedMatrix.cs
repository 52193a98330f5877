using System.Runtime.CompilerServices;
namespace Recur.Kernels;

/// <summary>
/// The right-hand operand of a GEMM, op(B) of shape (K, N), packed once into the panel layout of the
/// micro-kernel so that many products can reuse it. The recurrent layers pack <c>W_hh</c> once per call and
/// reuse it at every time step.
/// </summary>
/// <remarks>
/// Layout: K is cut into blocks of <see cref="Gemm.KC"/> rows; block <c>kb</c> starts at <c>kStart * NPad</c>.
/// Inside a block of <c>kc</c> rows, panel <c>jp</c> (columns <c>jp*NR .. jp*NR+NR-1</c>, zero-padded past N)
/// starts at <c>jp * kc * NR</c> and holds element (p, j) at <c>p * NR + j</c>.
/// The panel width NR is fixed by the vector width current when packing; products run with that width.
/// </remarks>
public sealed unsafe class PackedMatrix
{
    internal readonly AlignedBuffer Buffer = new();

    /// <summary>Rows of op(B): the inner dimension of the product.</summary>
    public int K { get; private set; }

    /// <summary>Columns of op(B): the columns of the result.</summary>
    public int N { get; private set; }

    /// <summary>The vector width the panels were packed for.</summary>
    public SimdWidth Width { get; private set; }

    internal int NR { get; private set; }
    internal int Panels { get; private set; }
    internal int NPad => Panels * NR;

    /// <summary>Packs op(<paramref name="b"/>), of shape (k, n), for repeated use as a GEMM right-hand side.</summary>
    /// <param name="trans">Whether <paramref name="b"/> is stored as (k, n) (<see cref="Transpose.No"/>) or (n, k).</param>
    /// <param name="k">Rows of op(B).</param>
    /// <param name="n">Columns of op(B).</param>
    /// <param name="b">The stored matrix, row-major.</param>
    /// <param name="ldb">Row stride of the stored matrix.</param>
    public static PackedMatrix Pack(Transpose trans, int k, int n, ReadOnlySpan<float> b, int ldb)
    {
        var packed = new PackedMatrix();
        packed.Repack(trans, k, n, b, ldb);
        return packed;
    }

    /// <summary>Packs new contents into this instance, reusing its memory when large enough.</summary>
    public void Repack(Transpose trans, int k, int n, ReadOnlySpan<float> b, int ldb)
    {
        Gemm.CheckOperand(nameof(b), trans, k, n, b.Length, ldb);
        fixed (float* pb = b) PackFrom(SimdDispatch.Current, trans, k, n, pb, ldb);
    }

    internal void PackFrom(SimdWidth width, Transpose trans, int k, int n, float* b, int ldb)
    {
        Width = width;
        NR = Gemm.PanelWidth(width);
        K = k;
        N = n;
        Panels = (n + NR - 1) / NR;
        Buffer.Ensure(Math.Max(1L, (long)k * NPad));
        PackJob.Run(this, trans, b, ldb);
    }

    /// <summary>Start of panel <paramref name="panel"/> in the k-block starting at row <paramref name="kStart"/> of <paramref name="kc"/> rows.</summary>
    internal float* Panel(int kStart, int kc, int panel) => Buffer.Pointer + (long)kStart * NPad + (long)panel * kc * NR;

    /// <summary>Packs panels in parallel; one index per panel, covering every k-block.</summary>
    private sealed class PackJob : IParallelJob
    {
        [ThreadStatic] private static PackJob? cached;
        private PackedMatrix target = null!;
        private Transpose trans;
        private float* b;
        private int ldb;

        public static void Run(PackedMatrix target, Transpose trans, float* b, int ldb)
        {
            var job = cached ??= new PackJob();
            job.target = target;
            job.trans = trans;
            job.b = b;
            job.ldb = ldb;
            // Packing is memory-bound; split it only when there is enough of it.
            int count = (long)target.K * target.N >= 32 * 1024 ? target.Panels : 1;
            if (count == 1) { for (int p = 0; p < target.Panels; p++) job.Execute(p); }
            else Parallelism.For(job, count);
            job.target = null!;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int panel)
        {
            var t = target;
            int nr = t.NR;
            int j0 = panel * nr;
            int cols = Math.Min(nr, t.N - j0);
            for (int k0 = 0; k0 < t.K; k0 += Gemm.KC)
            {
                int kc = Math.Min(Gemm.KC, t.K - k0);
                float* dst = t.Panel(k0, kc, panel);
                if (trans == Transpose.No)
                {
                    // B stored (K, N): each packed row is a contiguous slice of a row of B, then zeros.
                    for (int p = 0; p < kc; p++)
                    {
                        float* d = dst + (long)p * nr;
                        new ReadOnlySpan<float>(b + (long)(k0 + p) * ldb + j0, cols).CopyTo(new Span<float>(d, cols));
                        if (cols < nr) new Span<float>(d + cols, nr - cols).Clear();
                    }
                }
                else
                {
                    // B stored (N, K): column j of op(B) is row j of B. Eight rows of B by eight k at a time become an
                    // 8 x 8 block of the panel through a register transpose; the corners go one float at a time.
                    int jv = 0, pv = 0;
                    if (PackTranspose.Vectorised && nr % 8 == 0)
                    {
                        jv = cols & ~7;
                        pv = kc & ~7;
                        for (int j = 0; j < jv; j += 8)
                        {
                            float* src = b + (long)(j0 + j) * ldb + k0;
                            for (int p = 0; p < pv; p += 8)
                                PackTranspose.Block8(src + p, ldb, dst + (long)p * nr + j, nr);
                        }
                    }
                    for (int j = 0; j < cols; j++)
                    {
                        float* src = b + (long)(j0 + j) * ldb + k0;
                        float* d = dst + j;
                        for (int p = j < jv ? pv : 0; p < kc; p++) d[(long)p * nr] = src[p];
                    }
                    if (cols < nr)
                        for (int p = 0; p < kc; p++) new Span<float>(dst + (long)p * nr + cols, nr - cols).Clear();
                }
            }
        }
    }
}
