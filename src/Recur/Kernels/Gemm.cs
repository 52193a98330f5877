using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>
/// Single-precision general matrix multiply, row-major: <c>C = alpha * op(A) * op(B) + beta * C</c>
/// with op(A) of shape (M, K), op(B) of shape (K, N) and C of shape (M, N).
/// </summary>
/// <remarks>
/// <para>The structure follows BLIS/GotoBLAS: op(B) is packed into panels NR columns wide (<see cref="PackedMatrix"/>),
/// op(A) into slivers <see cref="MR"/> rows tall, and a register-blocked micro-kernel computes one MR x NR tile
/// of C per call, keeping 2 x MR vector accumulators in registers. The micro-kernel is written once over
/// <see cref="ISimd{TV}"/> and runs with Vector512 (NR = 32), Vector256 (16), Vector128 (8) or scalar (2) lanes,
/// chosen at run time by <see cref="SimdDispatch"/>.</para>
/// <para>On AVX-512 the tile height follows M (<see cref="TileRowsFor"/>): 8 rows for the recurrent step products of
/// 32 or 64 rows (no padded sliver), 6 otherwise. <see cref="Tuning"/> also holds an NC loop (a block of B panels
/// reused from L2 across several MC row blocks), prefetch of B panels and C tiles, and AVX-512 masked edge stores:
/// all off by default, as none measured faster (docs/benchmarks.md, "GEMM blocking").</para>
/// <para>Products of at most <see cref="Tuning.AInPlaceMaxRows"/> rows (off by default) with A stored untransposed do not
/// pack A: the micro-kernels, generic over the sliver layout (<see cref="IASliver"/>), read its rows where they are
/// stored (row stride lda), with the same operations per element of C as from a packed sliver. A short sliver reads its
/// last valid row again for the missing ones, so nothing past the last row of A is loaded.</para>
/// <para>Work is split into tiles of C and run on <see cref="Parallelism"/>. Every element of C is accumulated
/// over K in the same order whatever the tiling or thread count (blocks of <see cref="KC"/>), so results are
/// bit-identical for any number of threads.</para>
/// <para>Products with at most <see cref="SkinnyRows"/> rows (a single time step of batch 1, say) skip packing
/// and stream op(B) directly, which is what matters when the product is memory-bound. A single row with a pre-packed B
/// takes <see cref="PackedRow"/> instead: the tiled path's arithmetic for that row, streamed in panel order.</para>
/// <para>beta = 0 overwrites C without reading it, so C may hold garbage or NaN, as in BLAS.</para>
/// </remarks>
public static unsafe class Gemm
{
    /// <summary>Rows of the micro-kernel tile.</summary>
    public const int MR = 6;

    /// <summary>Depth of one k-block: how many rank-1 updates the micro-kernel accumulates per call.</summary>
    public const int KC = 256;

    /// <summary>Rows of op(A) packed together (a multiple of <see cref="MR"/>); sized to stay in L2.</summary>
    public const int MC = 16 * MR;

    /// <summary>Products with at most this many rows take the unpacked streaming path.</summary>
    public const int SkinnyRows = 4;

    /// <summary>
    /// The blocking of the packed path, settable only inside the library and its benchmarks (the A/B runs that chose
    /// the defaults, <c>Recur.Bench gemm-ab</c>). Every setting computes each element of C with the same operations in
    /// the same order (k-blocks of <see cref="KC"/> in order, then the rank-1 updates in order), so results are
    /// bit-identical whatever they are; only the speed changes.
    /// </summary>
    internal static class Tuning
    {
        /// <summary>Micro-kernel rows: 6, 8 or 12; 0 chooses by M and vector width (<see cref="TileRowsFor"/>).</summary>
        public static int TileRows;

        /// <summary>
        /// MC row blocks per tile of work: the B block is reused from L2 across them (the NC loop). Used when the
        /// product has at least this many row blocks per thread, so that every thread still gets whole tiles. 4 by default:
        /// on the quiet machine it took 0.95-0.97x the time at n = 1024 and 0.90-0.93x at n = 2048 in two interleaved
        /// runs (docs/benchmarks.md, "GEMM blocking"); 1 turns it off.
        /// </summary>
        public static int RowBlocks = 4;

        /// <summary>Panels per B block (NC / NR) when <see cref="RowBlocks"/> &gt; 1.</summary>
        public static int BlockPanels = 8;

        /// <summary>Prefetch the next B panel into L2 while the current one is in use.</summary>
        public static bool PrefetchB;

        /// <summary>Prefetch the next C tile into L1 when the micro-kernel accumulates into C.</summary>
        public static bool PrefetchC;

        /// <summary>AVX-512 masked loads and stores for a column edge tile instead of the scalar corner.</summary>
        public static bool MaskedTails;

        /// <summary>
        /// Products of at most this many rows with A stored untransposed read A in place (<see cref="InPlaceSliver"/>)
        /// instead of packing it per column tile; 0 (the default) packs A always. 64 covers the recurrent step products
        /// of batch 32 or 64: up to <see cref="MC"/> rows the whole of M is one row tile, so its A block per k-block (at
        /// most 64 KB at 64 rows) stays in L2 unpacked as the packed copy would, and the column tiles (one per thread)
        /// no longer each pack the same block. Off by default: with the library's tile choice the quiet A/B measured it
        /// no faster at M = 32 and slower at M = 64 (0.955 against 0.933 of the base time at 64x2048x512, 1.055 against
        /// 0.970 at 64x4096x1024; docs/benchmarks.md, "Skinny products, one-row products, aligned pools").
        /// </summary>
        public static int AInPlaceMaxRows;

        /// <summary>Every switch above at once, for code that sets a whole configuration and restores it (the A/B bench, the tests).</summary>
        public readonly record struct Settings(int TileRows, int RowBlocks, int BlockPanels, bool PrefetchB, bool PrefetchC,
            bool MaskedTails, int AInPlaceMaxRows = 0);

        /// <summary>The switches as they are now.</summary>
        public static Settings Current => new(TileRows, RowBlocks, BlockPanels, PrefetchB, PrefetchC, MaskedTails, AInPlaceMaxRows);

        /// <summary>Sets every switch from <paramref name="s"/>.</summary>
        public static void Apply(Settings s)
        {
            TileRows = s.TileRows;
            RowBlocks = s.RowBlocks;
            BlockPanels = s.BlockPanels;
            PrefetchB = s.PrefetchB;
            PrefetchC = s.PrefetchC;
            MaskedTails = s.MaskedTails;
            AInPlaceMaxRows = s.AInPlaceMaxRows;
        }
    }

    /// <summary>The micro-kernel's row count for a product of <paramref name="m"/> rows at <paramref name="width"/>.</summary>
    internal static int TileRowsFor(int m, SimdWidth width)
    {
        int forced = Tuning.TileRows;
        // The 8- and 12-row tiles keep 16 and 24 accumulators: only AVX-512's 32 vector registers hold them.
        if (width != SimdWidth.V512 || !Avx512F.IsSupported) return MR;
        if (forced != 0) return forced;
        // The step products (batch 32 or 64 rows) fit whole 8-row slivers; 6-row ones pad 32 to 36 rows and 64 to 66.
        if (m % 8 == 0 && m <= 64) return 8;
        return MR;
    }

    private static volatile bool batchInvariant;

    /// <summary>
    /// Batch-invariant mode: every product takes the packed, tiled path, whatever its row count, so a row of C is the
    /// same bits whether it was computed alone or among others (the skinny path sums over K in another order). A
    /// server that gathers requests into one batch (<c>recur serve</c>) turns this on, so that each caller gets what a
    /// request on its own gets; products of at most <see cref="SkinnyRows"/> rows are then somewhat slower. Off by
    /// default; process-wide, like <see cref="Parallelism.ThreadCount"/>.
    /// </summary>
    public static bool BatchInvariant
    {
        get => batchInvariant;
        set => batchInvariant = value;
    }

    /// <summary>The largest row count that takes the skinny path: <see cref="SkinnyRows"/>, or 0 in <see cref="BatchInvariant"/> mode.</summary>
    internal static int SkinnyLimit => batchInvariant ? 0 : SkinnyRows;

    /// <summary>Micro-kernel tile width (columns) for a vector width: two vectors.</summary>
    public static int PanelWidth(SimdWidth width) => 2 * (int)width;

    /// <summary>
    /// <c>C = alpha * op(A) * op(B) + beta * C</c>. Use beta = 1 to accumulate into C.
    /// </summary>
    /// <param name="transA">Whether A is stored as (m, k) or as its transpose (k, m).</param>
    /// <param name="transB">Whether B is stored as (k, n) or as its transpose (n, k).</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A, row-major with row stride <paramref name="lda"/>.</param>
    /// <param name="lda">Row stride of A as stored.</param>
    /// <param name="b">B, row-major with row stride <paramref name="ldb"/>.</param>
    /// <param name="ldb">Row stride of B as stored.</param>
    /// <param name="beta">Scale of the existing C; 0 means C is only written.</param>
    /// <param name="c">C, row-major with row stride <paramref name="ldc"/>.</param>
    /// <param name="ldc">Row stride of C.</param>
    public static void Sgemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        CheckDims(m, n, k);
        CheckOperand(nameof(a), transA, m, k, a.Length, lda);
        CheckOperand(nameof(b), transB, k, n, b.Length, ldb);
        CheckOperand(nameof(c), Transpose.No, m, n, c.Length, ldc);
        fixed (float* pa = a, pb = b, pc = c)
            Multiply(SimdDispatch.Current, transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    /// <summary>
    /// <c>C = alpha * op(A) * B + beta * C</c> with a pre-packed right-hand side of shape (K, N).
    /// Runs with the vector width <paramref name="b"/> was packed for.
    /// </summary>
    public static void Sgemm(Transpose transA, int m, float alpha, ReadOnlySpan<float> a, int lda,
        PackedMatrix b, float beta, Span<float> c, int ldc)
    {
        ArgumentNullException.ThrowIfNull(b);
        CheckDims(m, b.N, b.K);
        CheckOperand(nameof(a), transA, m, b.K, a.Length, lda);
        CheckOperand(nameof(c), Transpose.No, m, b.N, c.Length, ldc);
        fixed (float* pa = a, pc = c)
            MultiplyPacked(transA, m, alpha, pa, lda, b, beta, pc, ldc);
    }

    internal static void CheckDims(int m, int n, int k)
    {
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "m must be >= 0");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be >= 0");
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be >= 0");
    }

    /// <summary>Checks that a stored matrix holding op(X) of shape (rows, cols) fits its span.</summary>
    internal static void CheckOperand(string name, Transpose trans, int rows, int cols, int length, int ld)
    {
        int storedRows = trans == Transpose.No ? rows : cols;
        int storedCols = trans == Transpose.No ? cols : rows;
        if (ld < Math.Max(1, storedCols))
            throw new ArgumentOutOfRangeException("ld" + name, ld,
                $"row stride of {name} must be >= {Math.Max(1, storedCols)} (its stored column count), got {ld}");
        if (storedRows == 0 || storedCols == 0) return;
        long needed = (long)(storedRows - 1) * ld + storedCols;
        if (length < needed)
            throw new ArgumentException(
                $"{name} is too short: a {storedRows}x{storedCols} matrix with row stride {ld} needs {needed} elements, got {length}",
                name);
    }

    /// <summary>The unchecked entry point used inside the library. Width selects the kernel path.</summary>
    internal static void Multiply(SimdWidth width, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleRows(m, n, beta, c, ldc);
            return;
        }
        SimdDispatch.Record(width);
        if (m <= SkinnyLimit)
        {
            Skinny.Run(width, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        var packed = ScratchB ??= new PackedMatrix();
        packed.PackFrom(width, transB, k, n, b, ldb);
        MultiplyPacked(transA, m, alpha, a, lda, packed, beta, c, ldc);
    }

    [ThreadStatic] private static PackedMatrix? ScratchB;

    internal static void MultiplyPacked(Transpose transA, int m, float alpha, float* a, int lda,
        PackedMatrix b, float beta, float* c, int ldc)
    {
        int n = b.N, k = b.K;
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleRows(m, n, beta, c, ldc);
            return;
        }
        SimdDispatch.Record(b.Width);
        if (beta != 0f && beta != 1f) ScaleRows(m, n, beta, c, ldc);
        if (m == 1 && transA == Transpose.No) PackedRow.Run(alpha, a, b, overwrite: beta == 0f, c);
        else TileJob.Run(transA, m, alpha, a, lda, b, overwrite: beta == 0f, c, ldc);
    }

    /// <summary>
    /// Whether a product of <paramref name="rows"/> rows should take a pre-packed right-hand side when there is one:
    /// more than <see cref="SkinnyLimit"/> rows (the tiled path), or a single row (<see cref="PackedRow"/>, the tiled
    /// path's arithmetic for that row, and faster than the skinny dot because it streams B in panel order). A caller
    /// that keeps packed weights decides by this, so a row's sums are the same whether it ran alone or among others.
    /// </summary>
    internal static bool TakesPacked(int rows) => rows > SkinnyLimit || rows == 1;

    private static void ScaleRows(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>
    /// One index per tile of C: <see cref="Tuning.RowBlocks"/> x MC rows by a run of panels; each tile loops over all
    /// k-blocks. Inside a k-block the tile's packed A stays in L2/L3 while B goes by blocks of
    /// <see cref="Tuning.BlockPanels"/> panels, each reused from L2 by every MC row block of the tile (the NC loop).
    /// </summary>
    private sealed class TileJob : IParallelJob
    {
        [ThreadStatic] private static TileJob? cached;
        [ThreadStatic] private static AlignedBuffer? packA;

        private Transpose transA;
        private int m;
        private float alpha;
        private float* a;
        private int lda;
        private PackedMatrix b = null!;
        private bool overwrite;
        private float* c;
        private int ldc;
        private int rowTiles;
        private int tileRows;
        private int panelsPerTile;
        private int mr;
        private int blockPanels;
        private bool prefetchB, prefetchC, masked;
        private bool inPlace;

        public static void Run(Transpose transA, int m, float alpha, float* a, int lda, PackedMatrix b, bool overwrite, float* c, int ldc)
        {
            var job = cached ??= new TileJob();
            job.transA = transA;
            job.m = m;
            job.alpha = alpha;
            job.a = a;
            job.lda = lda;
            job.b = b;
            job.overwrite = overwrite;
            job.c = c;
            job.ldc = ldc;
            job.mr = TileRowsFor(m, b.Width);
            int rowBlocks = Math.Max(1, Tuning.RowBlocks);
            if (m < (long)rowBlocks * MC * Parallelism.ThreadCount) rowBlocks = 1;
            job.blockPanels = rowBlocks > 1 ? Math.Max(1, Tuning.BlockPanels) : int.MaxValue;
            job.prefetchB = Tuning.PrefetchB && Sse.IsSupported;
            job.prefetchC = Tuning.PrefetchC && Sse.IsSupported && !overwrite;
            job.masked = Tuning.MaskedTails && b.Width == SimdWidth.V512 && Avx512F.IsSupported;
            job.inPlace = transA == Transpose.No && m <= Tuning.AInPlaceMaxRows;
            job.tileRows = rowBlocks * MC;
            job.rowTiles = (m + job.tileRows - 1) / job.tileRows;

            int threads = Parallelism.ThreadCount;
            double flops = 2.0 * m * b.N * b.K;
            int columnTiles;
            if (threads == 1 || flops < 8e6) columnTiles = 1;          // dispatch would cost more than it saves
            else if (job.rowTiles >= 4 * threads) columnTiles = 1;     // enough row tiles to balance
            else columnTiles = Math.Min(threads, b.Panels);            // a multiple of the thread count, as few as possible:
                                                                       // every extra tile repacks the same A block
            job.panelsPerTile = (b.Panels + columnTiles - 1) / columnTiles;
            int tiles = job.rowTiles * ((b.Panels + job.panelsPerTile - 1) / job.panelsPerTile);
            if (tiles == 1 || threads == 1) { for (int t = 0; t < tiles; t++) job.Execute(t); }
            else Parallelism.For(job, tiles);
            job.b = null!;
        }

        public void Execute(int tile)
        {
            int rowTile = tile % rowTiles;
            int colTile = tile / rowTiles;
            int i0 = rowTile * tileRows;
            int mc = Math.Min(tileRows, m - i0);
            int p0 = colTile * panelsPerTile;
            int p1 = Math.Min(b.Panels, p0 + panelsPerTile);

            var buffer = packA ??= new AlignedBuffer();
            buffer.Ensure((long)tileRows * KC + 12L * 2 * 16 + 16);
            float* ap = buffer.Pointer;

            switch (b.Width)
            {
                case SimdWidth.V512: Tile<Simd512, Vector512<float>>(i0, mc, p0, p1, ap); break;
                case SimdWidth.V256: Tile<Simd256, Vector256<float>>(i0, mc, p0, p1, ap); break;
                case SimdWidth.V128: Tile<Simd128, Vector128<float>>(i0, mc, p0, p1, ap); break;
                default: Tile<Simd1, float>(i0, mc, p0, p1, ap); break;
            }
        }

        private void Tile<TS, TV>(int i0, int mc, int p0, int p1, float* ap)
            where TS : struct, ISimd<TV> where TV : struct
        {
            if (inPlace) Tile<TS, TV, InPlaceSliver>(i0, mc, p0, p1, ap);
            else Tile<TS, TV, PackedSliver>(i0, mc, p0, p1, ap);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Tile<TS, TV, TA>(int i0, int mc, int p0, int p1, float* ap)
            where TS : struct, ISimd<TV> where TV : struct where TA : struct, IASliver
        {
            int mrows = mr;
            // Slivers are mrows tall; a tile's rows round up to whole slivers.
            float* edge = ap + (long)tileRows * KC;
            int nr = b.NR;
            int n = b.N;
            int k = b.K;
            for (int k0 = 0; k0 < k; k0 += KC)
            {
                int kc = Math.Min(KC, k - k0);
                if (!TA.InPlace) PackA(transA, a, lda, i0, mc, k0, kc, ap, mrows);
                bool first = overwrite && k0 == 0;
                int panelLines = kc * nr / 16;  // cache lines of one packed panel
                for (int jb = p0, jbEnd; jb < p1; jb = jbEnd)
                {
                    jbEnd = (int)Math.Min(p1, (long)jb + blockPanels);
                    for (int ib = 0; ib < mc; ib += MC)
                    {
                        int ibEnd = Math.Min(mc, ib + MC);
                        int slivers = (ibEnd - ib + mrows - 1) / mrows;
                        for (int jp = jb; jp < jbEnd; jp++)
                        {
                            float* bp = b.Panel(k0, kc, jp);
                            int j0 = jp * nr;
                            int cols = Math.Min(nr, n - j0);
                            // The panel to prefetch: the next one of this block on the first row block (later row
                            // blocks find the block in L2), the first of the next block after the last row block.
                            float* next = null;
                            if (prefetchB)
                            {
                                if (ib == 0 && jp + 1 < jbEnd) next = b.Panel(k0, kc, jp + 1);
                                else if (ib + MC >= mc && jp + 1 == jbEnd && jbEnd < p1) next = b.Panel(k0, kc, jbEnd);
                            }
                            int linesPerCall = (panelLines + slivers - 1) / slivers;
                            int s = 0;
                            for (int ir = ib; ir < ibEnd; ir += mrows, s++)
                            {
                                int rows = Math.Min(mrows, mc - ir);
                                float* ct = c + (long)(i0 + ir) * ldc + j0;
                                if (next != null)
                                {
                                    int l0 = s * linesPerCall, l1 = Math.Min(panelLines, l0 + linesPerCall);
                                    for (int l = l0; l < l1; l++) Sse.Prefetch1(next + (long)l * 16);
                                }
                                if (prefetchC && ir + mrows < ibEnd)
                                {
                                    float* cn = ct + (long)mrows * ldc;
                                    int nrows = Math.Min(mrows, ibEnd - ir - mrows);
                                    for (int i = 0; i < nrows; i++)
                                    {
                                        Sse.Prefetch0(cn + (long)i * ldc);
                                        Sse.Prefetch0(cn + (long)i * ldc + nr - 1);
                                    }
                                }
                                // The sliver: packed, or rows i0+ir.. of A from column k0 where they are stored.
                                float* at = TA.InPlace ? a + (long)(i0 + ir) * lda + k0 : ap + (long)ir * kc;
                                switch (mrows)
                                {
                                    case 8: MicroKernel8<TS, TV, TA>(kc, at, lda, bp, ct, ldc, alpha, first, rows, cols, edge, masked); break;
                                    case 12: MicroKernel12<TS, TV, TA>(kc, at, lda, bp, ct, ldc, alpha, first, rows, cols, edge, masked); break;
                                    default: MicroKernel<TS, TV, TA>(kc, at, lda, bp, ct, ldc, alpha, first, rows, cols, edge, masked); break;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs rows [i0, i0+mc) and columns [k0, k0+kc) of op(A) into <paramref name="mr"/>-row slivers (6, 8 or 12),
    /// zero-padded: sliver s holds element (i, p) at dst[s*mr*kc + p*mr + i].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(Transpose transA, float* a, int lda, int i0, int mc, int k0, int kc, float* dst, int mr)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* d = dst + (long)ir * kc;
            bool vector = rows == mr && PackTranspose.Vectorised;
            if (transA == Transpose.No)
            {
                // A stored (M, K): row i of the sliver is a contiguous run of row (i0+ir+i) of A. Eight k at a time
                // go through register transposes of six or eight rows; the rest, and short slivers, one float at a time.
                float* src0 = a + (long)(i0 + ir) * lda + k0;
                int pv = vector ? kc & ~7 : 0;
                for (int p = 0; p < pv; p += 8)
                {
                    float* dp = d + (long)p * mr;
                    if (mr == 8) PackTranspose.Block8(src0 + p, lda, dp, 8);
                    else
                    {
                        for (int h = 0; h < mr; h += 6) PackTranspose.Sliver6x8(src0 + (long)h * lda + p, lda, dp + h, mr);
                    }
                }
                for (int i = 0; i < rows; i++)
                {
                    float* src = src0 + (long)i * lda;
                    for (int p = pv; p < kc; p++) d[p * mr + i] = src[p];
                }
            }
            else if (vector)
            {
                // A stored (K, M): the sliver's column p is a contiguous run of mr floats of row (k0+p) of A.
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(k0 + p) * lda + i0 + ir;
                    float* dp = d + (long)p * mr;
                    if (mr == 8) PackTranspose.Copy8(src, dp);
                    else for (int h = 0; h < mr; h += 6) PackTranspose.Copy6(src + h, dp + h);
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(k0 + p) * lda + i0 + ir;
                    for (int i = 0; i < rows; i++) d[p * mr + i] = src[i];
                }
            }
            for (int i = rows; i < mr; i++)
                for (int p = 0; p < kc; p++) d[p * mr + i] = 0f;
        }
    }

    /// <summary>
    /// One MR x NR tile: <c>C = (first ? 0 : C) + alpha * sum_p a[p, :]^T b[p, :]</c>, where a is an MR-row sliver
    /// (element (i, p) at a[p*MR + i]) and b an NR-column panel (element (p, j) at b[p*NR + j]).
    /// Only the top-left rows x cols corner of the tile is stored.
    /// </summary>
    /// <remarks>
    /// The method must not call anything or allocate on the stack: on SysV every vector register is caller-saved,
    /// and a call anywhere in it makes the JIT spill all twelve accumulators inside the k-loop. Edge tiles
    /// therefore spill through <paramref name="edge"/>, a caller-provided buffer of MR * NR floats.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void MicroKernel<TS, TV>(int kc, float* a, float* b, float* c, int ldc, float alpha, bool first, int rows, int cols, float* edge, bool masked = false)
        where TS : struct, ISimd<TV> where TV : struct
        => MicroKernel<TS, TV, PackedSliver>(kc, a, 0, b, c, ldc, alpha, first, rows, cols, edge, masked);

    /// <summary>
    /// <see cref="MicroKernel{TS, TV}"/> over a sliver laid out as <typeparamref name="TA"/> says: packed, or rows of A
    /// in place with row stride <paramref name="lda"/> (ignored when packed). Same operations in the same order per
    /// element of C either way.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MicroKernel<TS, TV, TA>(int kc, float* a, nint lda, float* b, float* c, int ldc, float alpha, bool first, int rows, int cols, float* edge, bool masked)
        where TS : struct, ISimd<TV> where TV : struct where TA : struct, IASliver
    {
        int w = TS.Count;
        // Element (i, p) of the sliver is a[o_i + p * ks]: packed, o_i = i and ks = MR (constants after specialisation);
        // in place, o_i = min(i, rows - 1) * lda and ks = 1.
        int last = rows - 1;
        nint ks = TA.InPlace ? 1 : MR;
        nint o1 = ASliver.RowOffset<TA>(1, last, lda), o2 = ASliver.RowOffset<TA>(2, last, lda);
        nint o3 = ASliver.RowOffset<TA>(3, last, lda), o4 = ASliver.RowOffset<TA>(4, last, lda);
        nint o5 = ASliver.RowOffset<TA>(5, last, lda);
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero;
        TV c30 = TS.Zero, c31 = TS.Zero, c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero;
        // Two rank-1 updates per iteration (fewer loop instructions per FMA), then the odd one.
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            TV b0 = TS.Load(b);
            TV b1 = TS.Load(b + w);
            TV x = TS.Broadcast(a[0]); c00 = TS.MulAdd(x, b0, c00); c01 = TS.MulAdd(x, b1, c01);
            x = TS.Broadcast(a[o1]); c10 = TS.MulAdd(x, b0, c10); c11 = TS.MulAdd(x, b1, c11);
            x = TS.Broadcast(a[o2]); c20 = TS.MulAdd(x, b0, c20); c21 = TS.MulAdd(x, b1, c21);
            x = TS.Broadcast(a[o3]); c30 = TS.MulAdd(x, b0, c30); c31 = TS.MulAdd(x, b1, c31);
            x = TS.Broadcast(a[o4]); c40 = TS.MulAdd(x, b0, c40); c41 = TS.MulAdd(x, b1, c41);
            x = TS.Broadcast(a[o5]); c50 = TS.MulAdd(x, b0, c50); c51 = TS.MulAdd(x, b1, c51);
            b0 = TS.Load(b + 2 * w);
            b1 = TS.Load(b + 3 * w);
            x = TS.Broadcast(a[ks]); c00 = TS.MulAdd(x, b0, c00); c01 = TS.MulAdd(x, b1, c01);
            x = TS.Broadcast(a[o1 + ks]); c10 = TS.MulAdd(x, b0, c10); c11 = TS.MulAdd(x, b1, c11);
            x = TS.Broadcast(a[o2 + ks]); c20 = TS.MulAdd(x, b0, c20); c21 = TS.MulAdd(x, b1, c21);
            x = TS.Broadcast(a[o3 + ks]); c30 = TS.MulAdd(x, b0, c30); c31 = TS.MulAdd(x, b1, c31);
            x = TS.Broadcast(a[o4 + ks]); c40 = TS.MulAdd(x, b0, c40); c41 = TS.MulAdd(x, b1, c41);
            x = TS.Broadcast(a[o5 + ks]); c50 = TS.MulAdd(x, b0, c50); c51 = TS.MulAdd(x, b1, c51);
            a += 2 * ks;
            b += 4 * w;
        }
        if (p < kc)
        {
            TV b0 = TS.Load(b);
            TV b1 = TS.Load(b + w);
            TV x = TS.Broadcast(a[0]); c00 = TS.MulAdd(x, b0, c00); c01 = TS.MulAdd(x, b1, c01);
            x = TS.Broadcast(a[o1]); c10 = TS.MulAdd(x, b0, c10); c11 = TS.MulAdd(x, b1, c11);
            x = TS.Broadcast(a[o2]); c20 = TS.MulAdd(x, b0, c20); c21 = TS.MulAdd(x, b1, c21);
            x = TS.Broadcast(a[o3]); c30 = TS.MulAdd(x, b0, c30); c31 = TS.MulAdd(x, b1, c31);
            x = TS.Broadcast(a[o4]); c40 = TS.MulAdd(x, b0, c40); c41 = TS.MulAdd(x, b1, c41);
            x = TS.Broadcast(a[o5]); c50 = TS.MulAdd(x, b0, c50); c51 = TS.MulAdd(x, b1, c51);
        }

        if (cols == 2 * w)
        {
            TV al = TS.Broadcast(alpha);
            if (rows == MR)
            {
                StoreRow<TS, TV>(c, w, al, first, c00, c01); c += ldc;
                StoreRow<TS, TV>(c, w, al, first, c10, c11); c += ldc;
                StoreRow<TS, TV>(c, w, al, first, c20, c21); c += ldc;
                StoreRow<TS, TV>(c, w, al, first, c30, c31); c += ldc;
                StoreRow<TS, TV>(c, w, al, first, c40, c41); c += ldc;
                StoreRow<TS, TV>(c, w, al, first, c50, c51);
                return;
            }
            // A short sliver (the last rows of M, say 64 = 10 x 6 + 4) over a full panel: the valid rows with the
            // same vector stores, no spill.
            StoreRow<TS, TV>(c, w, al, first, c00, c01);
            if (rows > 1) StoreRow<TS, TV>(c + ldc, w, al, first, c10, c11);
            if (rows > 2) StoreRow<TS, TV>(c + 2 * (long)ldc, w, al, first, c20, c21);
            if (rows > 3) StoreRow<TS, TV>(c + 3 * (long)ldc, w, al, first, c30, c31);
            if (rows > 4) StoreRow<TS, TV>(c + 4 * (long)ldc, w, al, first, c40, c41);
            return;
        }
        if (typeof(TV) == typeof(Vector512<float>) && masked)
        {
            // Column edge on AVX-512: masked loads and stores of the valid lanes, the same arithmetic as a full row.
            var (mlo, mhi) = EdgeMasks(cols);
            var al = Vector512.Create(alpha);
            StoreRowMasked(c, mlo, mhi, al, first, c00, c01);
            if (rows > 1) StoreRowMasked(c + ldc, mlo, mhi, al, first, c10, c11);
            if (rows > 2) StoreRowMasked(c + 2 * (long)ldc, mlo, mhi, al, first, c20, c21);
            if (rows > 3) StoreRowMasked(c + 3 * (long)ldc, mlo, mhi, al, first, c30, c31);
            if (rows > 4) StoreRowMasked(c + 4 * (long)ldc, mlo, mhi, al, first, c40, c41);
            if (rows > 5) StoreRowMasked(c + 5 * (long)ldc, mlo, mhi, al, first, c50, c51);
            return;
        }
        // Edge tile: spill the accumulators, then store the valid corner with the same arithmetic.
        float* t = edge;
        int nr = 2 * w;
        TS.Store(t, c00); TS.Store(t + w, c01);
        TS.Store(t + nr, c10); TS.Store(t + nr + w, c11);
        TS.Store(t + 2 * nr, c20); TS.Store(t + 2 * nr + w, c21);
        TS.Store(t + 3 * nr, c30); TS.Store(t + 3 * nr + w, c31);
        TS.Store(t + 4 * nr, c40); TS.Store(t + 4 * nr + w, c41);
        TS.Store(t + 5 * nr, c50); TS.Store(t + 5 * nr + w, c51);
        StoreCorner(c, ldc, t, nr, rows, cols, alpha, first);
    }

    /// <summary>The 8-row tile of <see cref="MicroKernel{TS, TV}"/> (AVX-512 only: 16 accumulators), same arithmetic per element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MicroKernel8<TS, TV, TA>(int kc, float* a, nint lda, float* b, float* c, int ldc, float alpha, bool first, int rows, int cols, float* edge, bool masked)
        where TS : struct, ISimd<TV> where TV : struct where TA : struct, IASliver
    {
        int w = TS.Count;
        int last = rows - 1;
        nint ks = TA.InPlace ? 1 : 8;
        nint o1 = ASliver.RowOffset<TA>(1, last, lda), o2 = ASliver.RowOffset<TA>(2, last, lda);
        nint o3 = ASliver.RowOffset<TA>(3, last, lda), o4 = ASliver.RowOffset<TA>(4, last, lda);
        nint o5 = ASliver.RowOffset<TA>(5, last, lda), o6 = ASliver.RowOffset<TA>(6, last, lda);
        nint o7 = ASliver.RowOffset<TA>(7, last, lda);
        TV c000 = TS.Zero, c001 = TS.Zero, c010 = TS.Zero, c011 = TS.Zero, c020 = TS.Zero, c021 = TS.Zero;
        TV c030 = TS.Zero, c031 = TS.Zero, c040 = TS.Zero, c041 = TS.Zero, c050 = TS.Zero, c051 = TS.Zero;
        TV c060 = TS.Zero, c061 = TS.Zero, c070 = TS.Zero, c071 = TS.Zero;
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            TV b0 = TS.Load(b);
            TV b1 = TS.Load(b + w);
            TV x0 = TS.Broadcast(a[0]); c000 = TS.MulAdd(x0, b0, c000); c001 = TS.MulAdd(x0, b1, c001);
            x0 = TS.Broadcast(a[o1]); c010 = TS.MulAdd(x0, b0, c010); c011 = TS.MulAdd(x0, b1, c011);
            x0 = TS.Broadcast(a[o2]); c020 = TS.MulAdd(x0, b0, c020); c021 = TS.MulAdd(x0, b1, c021);
            x0 = TS.Broadcast(a[o3]); c030 = TS.MulAdd(x0, b0, c030); c031 = TS.MulAdd(x0, b1, c031);
            x0 = TS.Broadcast(a[o4]); c040 = TS.MulAdd(x0, b0, c040); c041 = TS.MulAdd(x0, b1, c041);
            x0 = TS.Broadcast(a[o5]); c050 = TS.MulAdd(x0, b0, c050); c051 = TS.MulAdd(x0, b1, c051);
            x0 = TS.Broadcast(a[o6]); c060 = TS.MulAdd(x0, b0, c060); c061 = TS.MulAdd(x0, b1, c061);
            x0 = TS.Broadcast(a[o7]); c070 = TS.MulAdd(x0, b0, c070); c071 = TS.MulAdd(x0, b1, c071);
            b0 = TS.Load(b + 2 * w);
            b1 = TS.Load(b + 3 * w);
            x0 = TS.Broadcast(a[ks]); c000 = TS.MulAdd(x0, b0, c000); c001 = TS.MulAdd(x0, b1, c001);
            x0 = TS.Broadcast(a[o1 + ks]); c010 = TS.MulAdd(x0, b0, c010); c011 = TS.MulAdd(x0, b1, c011);
            x0 = TS.Broadcast(a[o2 + ks]); c020 = TS.MulAdd(x0, b0, c020); c021 = TS.MulAdd(x0, b1, c021);
            x0 = TS.Broadcast(a[o3 + ks]); c030 = TS.MulAdd(x0, b0, c030); c031 = TS.MulAdd(x0, b1, c031);
            x0 = TS.Broadcast(a[o4 + ks]); c040 = TS.MulAdd(x0, b0, c040); c041 = TS.MulAdd(x0, b1, c041);
            x0 = TS.Broadcast(a[o5 + ks]); c050 = TS.MulAdd(x0, b0, c050); c051 = TS.MulAdd(x0, b1, c051);
            x0 = TS.Broadcast(a[o6 + ks]); c060 = TS.MulAdd(x0, b0, c060); c061 = TS.MulAdd(x0, b1, c061);
            x0 = TS.Broadcast(a[o7 + ks]); c070 = TS.MulAdd(x0, b0, c070); c071 = TS.MulAdd(x0, b1, c071);
            a += 2 * ks;
            b += 4 * w;
        }
        for (; p < kc; p++)
        {
            TV b0 = TS.Load(b);
            TV b1 = TS.Load(b + w);
            TV x0 = TS.Broadcast(a[0]); c000 = TS.MulAdd(x0, b0, c000); c001 = TS.MulAdd(x0, b1, c001);
            TV x1 = TS.Broadcast(a[o1]); c010 = TS.MulAdd(x1, b0, c010); c011 = TS.MulAdd(x1, b1, c011);
            TV x2 = TS.Broadcast(a[o2]); c020 = TS.MulAdd(x2, b0, c020); c021 = TS.MulAdd(x2, b1, c021);
            TV x3 = TS.Broadcast(a[o3]); c030 = TS.MulAdd(x3, b0, c030); c031 = TS.MulAdd(x3, b1, c031);
            TV x4 = TS.Broadcast(a[o4]); c040 = TS.MulAdd(x4, b0, c040); c041 = TS.MulAdd(x4, b1, c041);
            TV x5 = TS.Broadcast(a[o5]); c050 = TS.MulAdd(x5, b0, c050); c051 = TS.MulAdd(x5, b1, c051);
            TV x6 = TS.Broadcast(a[o6]); c060 = TS.MulAdd(x6, b0, c060); c061 = TS.MulAdd(x6, b1, c061);
            TV x7 = TS.Broadcast(a[o7]); c070 = TS.MulAdd(x7, b0, c070); c071 = TS.MulAdd(x7, b1, c071);
            a += ks;
            b += 2 * w;
        }

        if (cols == 2 * w)
        {
            TV al = TS.Broadcast(alpha);
            StoreRow<TS, TV>(c + 0 * (long)ldc, w, al, first, c000, c001);
            if (rows > 1) StoreRow<TS, TV>(c + 1 * (long)ldc, w, al, first, c010, c011);
            if (rows > 2) StoreRow<TS, TV>(c + 2 * (long)ldc, w, al, first, c020, c021);
            if (rows > 3) StoreRow<TS, TV>(c + 3 * (long)ldc, w, al, first, c030, c031);
            if (rows > 4) StoreRow<TS, TV>(c + 4 * (long)ldc, w, al, first, c040, c041);
            if (rows > 5) StoreRow<TS, TV>(c + 5 * (long)ldc, w, al, first, c050, c051);
            if (rows > 6) StoreRow<TS, TV>(c + 6 * (long)ldc, w, al, first, c060, c061);
            if (rows > 7) StoreRow<TS, TV>(c + 7 * (long)ldc, w, al, first, c070, c071);
            return;
        }
        if (typeof(TV) == typeof(Vector512<float>) && masked)
        {
            var (mlo, mhi) = EdgeMasks(cols);
            var al = Vector512.Create(alpha);
            StoreRowMasked(c + 0 * (long)ldc, mlo, mhi, al, first, c000, c001);
            if (rows > 1) StoreRowMasked(c + 1 * (long)ldc, mlo, mhi, al, first, c010, c011);
            if (rows > 2) StoreRowMasked(c + 2 * (long)ldc, mlo, mhi, al, first, c020, c021);
            if (rows > 3) StoreRowMasked(c + 3 * (long)ldc, mlo, mhi, al, first, c030, c031);
            if (rows > 4) StoreRowMasked(c + 4 * (long)ldc, mlo, mhi, al, first, c040, c041);
            if (rows > 5) StoreRowMasked(c + 5 * (long)ldc, mlo, mhi, al, first, c050, c051);
            if (rows > 6) StoreRowMasked(c + 6 * (long)ldc, mlo, mhi, al, first, c060, c061);
            if (rows > 7) StoreRowMasked(c + 7 * (long)ldc, mlo, mhi, al, first, c070, c071);
            return;
        }
        // Edge tile: spill the accumulators, then store the valid corner with the same arithmetic.
        float* t = edge;
        int nr = 2 * w;
        TS.Store(t + 0 * nr, c000); TS.Store(t + 0 * nr + w, c001);
        TS.Store(t + 1 * nr, c010); TS.Store(t + 1 * nr + w, c011);
        TS.Store(t + 2 * nr, c020); TS.Store(t + 2 * nr + w, c021);
        TS.Store(t + 3 * nr, c030); TS.Store(t + 3 * nr + w, c031);
        TS.Store(t + 4 * nr, c040); TS.Store(t + 4 * nr + w, c041);
        TS.Store(t + 5 * nr, c050); TS.Store(t + 5 * nr + w, c051);
        TS.Store(t + 6 * nr, c060); TS.Store(t + 6 * nr + w, c061);
        TS.Store(t + 7 * nr, c070); TS.Store(t + 7 * nr + w, c071);
        StoreCorner(c, ldc, t, nr, rows, cols, alpha, first);
    }

    /// <summary>The 12-row tile of <see cref="MicroKernel{TS, TV}"/> (AVX-512 only: 24 accumulators), same arithmetic per element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MicroKernel12<TS, TV, TA>(int kc, float* a, nint lda, float* b, float* c, int ldc, float alpha, bool first, int rows, int cols, float* edge, bool masked)
        where TS : struct, ISimd<TV> where TV : struct where TA : struct, IASliver
    {
        int w = TS.Count;
        int last = rows - 1;
        nint ks = TA.InPlace ? 1 : 12;
        nint o1 = ASliver.RowOffset<TA>(1, last, lda), o2 = ASliver.RowOffset<TA>(2, last, lda);
        nint o3 = ASliver.RowOffset<TA>(3, last, lda), o4 = ASliver.RowOffset<TA>(4, last, lda);
        nint o5 = ASliver.RowOffset<TA>(5, last, lda), o6 = ASliver.RowOffset<TA>(6, last, lda);
        nint o7 = ASliver.RowOffset<TA>(7, last, lda), o8 = ASliver.RowOffset<TA>(8, last, lda);
        nint o9 = ASliver.RowOffset<TA>(9, last, lda), o10 = ASliver.RowOffset<TA>(10, last, lda);
        nint o11 = ASliver.RowOffset<TA>(11, last, lda);
        TV c000 = TS.Zero, c001 = TS.Zero, c010 = TS.Zero, c011 = TS.Zero, c020 = TS.Zero, c021 = TS.Zero;
        TV c030 = TS.Zero, c031 = TS.Zero, c040 = TS.Zero, c041 = TS.Zero, c050 = TS.Zero, c051 = TS.Zero;
        TV c060 = TS.Zero, c061 = TS.Zero, c070 = TS.Zero, c071 = TS.Zero, c080 = TS.Zero, c081 = TS.Zero;
        TV c090 = TS.Zero, c091 = TS.Zero, c100 = TS.Zero, c101 = TS.Zero, c110 = TS.Zero, c111 = TS.Zero;
        int p = 0;
        for (; p < kc; p++)
        {
            TV b0 = TS.Load(b);
            TV b1 = TS.Load(b + w);
            TV x0 = TS.Broadcast(a[0]); c000 = TS.MulAdd(x0, b0, c000); c001 = TS.MulAdd(x0, b1, c001);
            TV x1 = TS.Broadcast(a[o1]); c010 = TS.MulAdd(x1, b0, c010); c011 = TS.MulAdd(x1, b1, c011);
            TV x2 = TS.Broadcast(a[o2]); c020 = TS.MulAdd(x2, b0, c020); c021 = TS.MulAdd(x2, b1, c021);
            TV x3 = TS.Broadcast(a[o3]); c030 = TS.MulAdd(x3, b0, c030); c031 = TS.MulAdd(x3, b1, c031);
            TV x4 = TS.Broadcast(a[o4]); c040 = TS.MulAdd(x4, b0, c040); c041 = TS.MulAdd(x4, b1, c041);
            TV x5 = TS.Broadcast(a[o5]); c050 = TS.MulAdd(x5, b0, c050); c051 = TS.MulAdd(x5, b1, c051);
            TV x6 = TS.Broadcast(a[o6]); c060 = TS.MulAdd(x6, b0, c060); c061 = TS.MulAdd(x6, b1, c061);
            TV x7 = TS.Broadcast(a[o7]); c070 = TS.MulAdd(x7, b0, c070); c071 = TS.MulAdd(x7, b1, c071);
            TV x8 = TS.Broadcast(a[o8]); c080 = TS.MulAdd(x8, b0, c080); c081 = TS.MulAdd(x8, b1, c081);
            TV x9 = TS.Broadcast(a[o9]); c090 = TS.MulAdd(x9, b0, c090); c091 = TS.MulAdd(x9, b1, c091);
            TV x10 = TS.Broadcast(a[o10]); c100 = TS.MulAdd(x10, b0, c100); c101 = TS.MulAdd(x10, b1, c101);
            TV x11 = TS.Broadcast(a[o11]); c110 = TS.MulAdd(x11, b0, c110); c111 = TS.MulAdd(x11, b1, c111);
            a += ks;
            b += 2 * w;
        }

        if (cols == 2 * w)
        {
            TV al = TS.Broadcast(alpha);
            StoreRow<TS, TV>(c + 0 * (long)ldc, w, al, first, c000, c001);
            if (rows > 1) StoreRow<TS, TV>(c + 1 * (long)ldc, w, al, first, c010, c011);
            if (rows > 2) StoreRow<TS, TV>(c + 2 * (long)ldc, w, al, first, c020, c021);
            if (rows > 3) StoreRow<TS, TV>(c + 3 * (long)ldc, w, al, first, c030, c031);
            if (rows > 4) StoreRow<TS, TV>(c + 4 * (long)ldc, w, al, first, c040, c041);
            if (rows > 5) StoreRow<TS, TV>(c + 5 * (long)ldc, w, al, first, c050, c051);
            if (rows > 6) StoreRow<TS, TV>(c + 6 * (long)ldc, w, al, first, c060, c061);
            if (rows > 7) StoreRow<TS, TV>(c + 7 * (long)ldc, w, al, first, c070, c071);
            if (rows > 8) StoreRow<TS, TV>(c + 8 * (long)ldc, w, al, first, c080, c081);
            if (rows > 9) StoreRow<TS, TV>(c + 9 * (long)ldc, w, al, first, c090, c091);
            if (rows > 10) StoreRow<TS, TV>(c + 10 * (long)ldc, w, al, first, c100, c101);
            if (rows > 11) StoreRow<TS, TV>(c + 11 * (long)ldc, w, al, first, c110, c111);
            return;
        }
        if (typeof(TV) == typeof(Vector512<float>) && masked)
        {
            var (mlo, mhi) = EdgeMasks(cols);
            var al = Vector512.Create(alpha);
            StoreRowMasked(c + 0 * (long)ldc, mlo, mhi, al, first, c000, c001);
            if (rows > 1) StoreRowMasked(c + 1 * (long)ldc, mlo, mhi, al, first, c010, c011);
            if (rows > 2) StoreRowMasked(c + 2 * (long)ldc, mlo, mhi, al, first, c020, c021);
            if (rows > 3) StoreRowMasked(c + 3 * (long)ldc, mlo, mhi, al, first, c030, c031);
            if (rows > 4) StoreRowMasked(c + 4 * (long)ldc, mlo, mhi, al, first, c040, c041);
            if (rows > 5) StoreRowMasked(c + 5 * (long)ldc, mlo, mhi, al, first, c050, c051);
            if (rows > 6) StoreRowMasked(c + 6 * (long)ldc, mlo, mhi, al, first, c060, c061);
            if (rows > 7) StoreRowMasked(c + 7 * (long)ldc, mlo, mhi, al, first, c070, c071);
            if (rows > 8) StoreRowMasked(c + 8 * (long)ldc, mlo, mhi, al, first, c080, c081);
            if (rows > 9) StoreRowMasked(c + 9 * (long)ldc, mlo, mhi, al, first, c090, c091);
            if (rows > 10) StoreRowMasked(c + 10 * (long)ldc, mlo, mhi, al, first, c100, c101);
            if (rows > 11) StoreRowMasked(c + 11 * (long)ldc, mlo, mhi, al, first, c110, c111);
            return;
        }
        // Edge tile: spill the accumulators, then store the valid corner with the same arithmetic.
        float* t = edge;
        int nr = 2 * w;
        TS.Store(t + 0 * nr, c000); TS.Store(t + 0 * nr + w, c001);
        TS.Store(t + 1 * nr, c010); TS.Store(t + 1 * nr + w, c011);
        TS.Store(t + 2 * nr, c020); TS.Store(t + 2 * nr + w, c021);
        TS.Store(t + 3 * nr, c030); TS.Store(t + 3 * nr + w, c031);
        TS.Store(t + 4 * nr, c040); TS.Store(t + 4 * nr + w, c041);
        TS.Store(t + 5 * nr, c050); TS.Store(t + 5 * nr + w, c051);
        TS.Store(t + 6 * nr, c060); TS.Store(t + 6 * nr + w, c061);
        TS.Store(t + 7 * nr, c070); TS.Store(t + 7 * nr + w, c071);
        TS.Store(t + 8 * nr, c080); TS.Store(t + 8 * nr + w, c081);
        TS.Store(t + 9 * nr, c090); TS.Store(t + 9 * nr + w, c091);
        TS.Store(t + 10 * nr, c100); TS.Store(t + 10 * nr + w, c101);
        TS.Store(t + 11 * nr, c110); TS.Store(t + 11 * nr + w, c111);
        StoreCorner(c, ldc, t, nr, rows, cols, alpha, first);
    }

    /// <summary>
    /// The valid <paramref name="rows"/> x <paramref name="cols"/> corner of a spilled edge tile <paramref name="t"/>
    /// (row stride <paramref name="nr"/>) into C: <c>C = alpha * acc (+ C)</c>, the arithmetic of the vector stores.
    /// </summary>
    private static void StoreCorner(float* c, int ldc, float* t, int nr, int rows, int cols, float alpha, bool first)
    {
        for (int i = 0; i < rows; i++)
        {
            float* crow = c + (long)i * ldc;
            float* trow = t + i * nr;
            for (int j = 0; j < cols; j++)
                crow[j] = first ? alpha * trow[j] : float.MultiplyAddEstimate(alpha, trow[j], crow[j]);
        }
    }

    /// <summary>Lane masks of the first <paramref name="cols"/> (fewer than 32) columns of a 32-wide tile, low and high vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Low, Vector512<float> High) EdgeMasks(int cols)
    {
        var lane = Vector512<int>.Indices;
        return (Vector512.LessThan(lane, Vector512.Create(cols)).AsSingle(),
                Vector512.LessThan(lane, Vector512.Create(cols - 16)).AsSingle());
    }

    /// <summary>The valid lanes of one row of an edge tile: <c>C = alpha * acc (+ C)</c>, masked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRowMasked<TV>(float* c, Vector512<float> mlo, Vector512<float> mhi, Vector512<float> alpha, bool first, TV lo, TV hi)
        where TV : struct
    {
        var l = Unsafe.As<TV, Vector512<float>>(ref lo);
        var h = Unsafe.As<TV, Vector512<float>>(ref hi);
        if (first)
        {
            Avx512F.MaskStore(c, mlo, Avx512F.Multiply(alpha, l));
            Avx512F.MaskStore(c + 16, mhi, Avx512F.Multiply(alpha, h));
        }
        else
        {
            Avx512F.MaskStore(c, mlo, Avx512F.FusedMultiplyAdd(alpha, l, Avx512F.MaskLoad(c, mlo, Vector512<float>.Zero)));
            Avx512F.MaskStore(c + 16, mhi, Avx512F.FusedMultiplyAdd(alpha, h, Avx512F.MaskLoad(c + 16, mhi, Vector512<float>.Zero)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TS, TV>(float* c, int w, TV alpha, bool first, TV lo, TV hi)
        where TS : struct, ISimd<TV> where TV : struct
    {
        if (first)
        {
            TS.Store(c, TS.Mul(alpha, lo));
            TS.Store(c + w, TS.Mul(alpha, hi));
        }
        else
        {
            TS.Store(c, TS.MulAdd(alpha, lo, TS.Load(c)));
            TS.Store(c + w, TS.MulAdd(alpha, hi, TS.Load(c + w)));
        }
    }

    /// <summary>
    /// One row of A times a packed B: for each k-block in order, each element is summed from zero over the block's k in
    /// order and then stored as <c>C = alpha * sum (+ C)</c>, exactly the micro-kernel's arithmetic for one row of a tile,
    /// so the result is bitwise that of the tiled path (a row alone equals the same row in a batch). Nothing is packed
    /// or padded: four panels per pass keep eight vector sums in flight and read B as four sequential streams, which
    /// for a one-row step (streaming, or one sequence) is what bounds the time. Parallel over groups of panels.
    /// </summary>
    private sealed class PackedRow : IParallelJob
    {
        private const int Group = 4;    // panels per pass
        [ThreadStatic] private static PackedRow? cached;

        private float alpha;
        private float* a;
        private PackedMatrix b = null!;
        private bool overwrite;
        private float* c;

        public static void Run(float alpha, float* a, PackedMatrix b, bool overwrite, float* c)
        {
            var job = cached ??= new PackedRow();
            job.alpha = alpha; job.a = a; job.b = b; job.overwrite = overwrite; job.c = c;
            int groups = (b.Panels + Group - 1) / Group;
            // Memory-bound: split it only when there is enough of it (as the skinny path).
            if ((long)b.N * b.K < 64 * 1024 || groups == 1) { for (int g = 0; g < groups; g++) job.Execute(g); }
            else Parallelism.For(job, groups);
            job.b = null!;
        }

        public void Execute(int group)
        {
            switch (b.Width)
            {
                case SimdWidth.V512: Columns<Simd512, Vector512<float>>(group); break;
                case SimdWidth.V256: Columns<Simd256, Vector256<float>>(group); break;
                case SimdWidth.V128: Columns<Simd128, Vector128<float>>(group); break;
                default: Columns<Simd1, float>(group); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Columns<TS, TV>(int group) where TS : struct, ISimd<TV> where TV : struct
        {
            int w = TS.Count, nr = b.NR, n = b.N, k = b.K;
            int p0 = group * Group, p1 = Math.Min(b.Panels, p0 + Group);
            float* edge = stackalloc float[64];
            TV al = TS.Broadcast(alpha);
            for (int k0 = 0; k0 < k; k0 += KC)
            {
                int kc = Math.Min(KC, k - k0);
                bool first = overwrite && k0 == 0;
                float* x = a + k0;
                float* bp = b.Panel(k0, kc, p0);
                long ps = (long)kc * nr;                       // one panel of this k-block
                if (p1 - p0 == Group && (long)p1 * nr <= n)
                {
                    TV s00 = TS.Zero, s01 = TS.Zero, s10 = TS.Zero, s11 = TS.Zero, s20 = TS.Zero, s21 = TS.Zero, s30 = TS.Zero, s31 = TS.Zero;
                    float* q0 = bp, q1 = bp + ps, q2 = bp + 2 * ps, q3 = bp + 3 * ps;
                    for (int p = 0; p < kc; p++)
                    {
                        TV xv = TS.Broadcast(x[p]);
                        long o = (long)p * nr;
                        s00 = TS.MulAdd(xv, TS.Load(q0 + o), s00); s01 = TS.MulAdd(xv, TS.Load(q0 + o + w), s01);
                        s10 = TS.MulAdd(xv, TS.Load(q1 + o), s10); s11 = TS.MulAdd(xv, TS.Load(q1 + o + w), s11);
                        s20 = TS.MulAdd(xv, TS.Load(q2 + o), s20); s21 = TS.MulAdd(xv, TS.Load(q2 + o + w), s21);
                        s30 = TS.MulAdd(xv, TS.Load(q3 + o), s30); s31 = TS.MulAdd(xv, TS.Load(q3 + o + w), s31);
                    }
                    float* cp = c + (long)p0 * nr;
                    StoreRow<TS, TV>(cp, w, al, first, s00, s01);
                    StoreRow<TS, TV>(cp + nr, w, al, first, s10, s11);
                    StoreRow<TS, TV>(cp + 2 * nr, w, al, first, s20, s21);
                    StoreRow<TS, TV>(cp + 3 * nr, w, al, first, s30, s31);
                    continue;
                }
                // The last group: fewer panels, or a panel narrower than NR (stored through the corner, as the tile does).
                for (int jp = p0; jp < p1; jp++, bp += ps)
                {
                    TV lo = TS.Zero, hi = TS.Zero;
                    for (int p = 0; p < kc; p++)
                    {
                        TV xv = TS.Broadcast(x[p]);
                        lo = TS.MulAdd(xv, TS.Load(bp + (long)p * nr), lo);
                        hi = TS.MulAdd(xv, TS.Load(bp + (long)p * nr + w), hi);
                    }
                    int j0 = jp * nr, cols = Math.Min(nr, n - j0);
                    if (cols == nr) StoreRow<TS, TV>(c + j0, w, al, first, lo, hi);
                    else
                    {
                        TS.Store(edge, lo);
                        TS.Store(edge + w, hi);
                        StoreCorner(c + j0, 0, edge, nr, 1, cols, alpha, first);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Products with at most <see cref="SkinnyRows"/> rows: no packing, op(B) is streamed once.
    /// Parallel over column blocks of C.
    /// </summary>
    internal sealed class Skinny : IParallelJob
    {
        private const int ColumnBlock = 128;
        [ThreadStatic] private static Skinny? cached;
        [ThreadStatic] private static AlignedBuffer? rowsOfA;

        private SimdWidth width;
        private Transpose transB;
        private int m, n, k;
        private float alpha, beta;
        private float* a;
        private int lda;
        private float* b;
        private int ldb;
        private float* c;
        private int ldc;

        public static void Run(SimdWidth width, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
            float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
        {
            if (transA == Transpose.Yes)
            {
                // Gather the few rows of op(A) into contiguous memory first.
                var buf = rowsOfA ??= new AlignedBuffer();
                buf.Ensure((long)m * k);
                float* g = buf.Pointer;
                for (int p = 0; p < k; p++)
                    for (int i = 0; i < m; i++) g[(long)i * k + p] = a[(long)p * lda + i];
                a = g;
                lda = k;
            }
            var job = cached ??= new Skinny();
            job.width = width; job.transB = transB;
            job.m = m; job.n = n; job.k = k;
            job.alpha = alpha; job.beta = beta;
            job.a = a; job.lda = lda; job.b = b; job.ldb = ldb; job.c = c; job.ldc = ldc;
            int blocks = (n + ColumnBlock - 1) / ColumnBlock;
            if ((long)n * k < 64 * 1024 || blocks == 1) { for (int i = 0; i < blocks; i++) job.Execute(i); }
            else Parallelism.For(job, blocks);
        }

        public void Execute(int block)
        {
            switch (width)
            {
                case SimdWidth.V512: Block<Simd512, Vector512<float>>(block); break;
                case SimdWidth.V256: Block<Simd256, Vector256<float>>(block); break;
                case SimdWidth.V128: Block<Simd128, Vector128<float>>(block); break;
                default: Block<Simd1, float>(block); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Block<TS, TV>(int block) where TS : struct, ISimd<TV> where TV : struct
        {
            int j0 = block * ColumnBlock;
            int j1 = Math.Min(n, j0 + ColumnBlock);
            if (transB == Transpose.Yes)
            {
                // op(B)[:, j] is row j of B: C[i, j] = alpha * dot(A_i, B_j) + beta * C[i, j]. Four columns at a time
                // share each load of A_i and keep eight independent sums in flight (Dot4); each dot keeps Dot's order.
                float* d4 = stackalloc float[4];
                int j = j0;
                for (; j + 4 <= j1; j += 4)
                {
                    float* bj = b + (long)j * ldb;
                    for (int i = 0; i < m; i++)
                    {
                        Dot4<TS, TV>(a + (long)i * lda, bj, ldb, k, d4);
                        float* ci = c + (long)i * ldc + j;
                        for (int q = 0; q < 4; q++)
                            ci[q] = beta == 0f ? alpha * d4[q] : float.MultiplyAddEstimate(beta, ci[q], alpha * d4[q]);
                    }
                }
                for (; j < j1; j++)
                {
                    float* bj = b + (long)j * ldb;
                    for (int i = 0; i < m; i++)
                    {
                        float d = Dot<TS, TV>(a + (long)i * lda, bj, k);
                        float* cij = c + (long)i * ldc + j;
                        *cij = beta == 0f ? alpha * d : float.MultiplyAddEstimate(beta, *cij, alpha * d);
                    }
                }
            }
            else
            {
                // op(B) = B stored (K, N): C[i, j0:j1] = alpha * sum_p A[i, p] * B[p, j0:j1] + beta * C[i, j0:j1].
                // Runs of 8 vectors keep their sums in registers over all of K (Column8); the rest of the block goes
                // through memory (Axpy). Either way each element is summed over p in order from zero, so both give the
                // same bits.
                float* acc = stackalloc float[SkinnyRows * ColumnBlock];
                int cols = j1 - j0;
                int w8 = TS.Count > 1 ? 8 * TS.Count : 0;
                int inRegisters = w8 == 0 ? 0 : cols / w8 * w8;
                for (int i = 0; i < m; i++)
                    for (int jr = 0; jr < inRegisters; jr += w8)
                        Column8<TS, TV>(a + (long)i * lda, b + j0 + jr, ldb, k, acc + i * ColumnBlock + jr);
                if (inRegisters < cols)
                {
                    for (int i = 0; i < m; i++) new Span<float>(acc + i * ColumnBlock + inRegisters, cols - inRegisters).Clear();
                    for (int p = 0; p < k; p++)
                    {
                        float* bp = b + (long)p * ldb + j0 + inRegisters;
                        for (int i = 0; i < m; i++)
                            Axpy<TS, TV>(a[(long)i * lda + p], bp, acc + i * ColumnBlock + inRegisters, cols - inRegisters);
                    }
                }
                for (int i = 0; i < m; i++)
                {
                    float* crow = c + (long)i * ldc + j0;
                    float* arow = acc + i * ColumnBlock;
                    for (int j = 0; j < cols; j++)
                        crow[j] = beta == 0f ? alpha * arow[j] : float.MultiplyAddEstimate(beta, crow[j], alpha * arow[j]);
                }
            }
        }

        /// <summary>dot(x, y) over <paramref name="len"/> floats, in the skinny product's order (the recurrent step's hidden-unit blocks reuse it).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static float Dot<TS, TV>(float* x, float* y, int len) where TS : struct, ISimd<TV> where TV : struct
        {
            int w = TS.Count;
            int i = 0;
            float s = 0f;
            if (w > 1)
            {
                TV s0 = TS.Zero, s1 = TS.Zero;
                for (; i + 2 * w <= len; i += 2 * w)
                {
                    s0 = TS.MulAdd(TS.Load(x + i), TS.Load(y + i), s0);
                    s1 = TS.MulAdd(TS.Load(x + i + w), TS.Load(y + i + w), s1);
                }
                if (i + w <= len)
                {
                    s0 = TS.MulAdd(TS.Load(x + i), TS.Load(y + i), s0);
                    i += w;
                }
                s = TS.Sum(TS.Add(s0, s1));
            }
            for (; i < len; i++) s = float.MultiplyAddEstimate(x[i], y[i], s);
            return s;
        }

        /// <summary>
        /// Four dot products of <paramref name="x"/> with rows y, y + ldy, y + 2 ldy, y + 3 ldy into d[0..3], each in
        /// <see cref="Dot{TS, TV}"/>'s order (two alternating vector sums, then the scalar tail), so each equals Dot's
        /// result bit for bit; x is loaded once for all four, and eight sums are in flight instead of two.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Dot4<TS, TV>(float* x, float* y, int ldy, int len, float* d) where TS : struct, ISimd<TV> where TV : struct
        {
            int w = TS.Count;
            if (w == 1)
            {
                for (int q = 0; q < 4; q++) d[q] = Dot<TS, TV>(x, y + (long)q * ldy, len);
                return;
            }
            float* y0 = y, y1 = y + ldy, y2 = y + 2L * ldy, y3 = y + 3L * ldy;
            TV a0 = TS.Zero, a1 = TS.Zero, b0 = TS.Zero, b1 = TS.Zero, c0 = TS.Zero, c1 = TS.Zero, e0 = TS.Zero, e1 = TS.Zero;
            int i = 0;
            for (; i + 2 * w <= len; i += 2 * w)
            {
                TV xl = TS.Load(x + i), xh = TS.Load(x + i + w);
                a0 = TS.MulAdd(xl, TS.Load(y0 + i), a0); a1 = TS.MulAdd(xh, TS.Load(y0 + i + w), a1);
                b0 = TS.MulAdd(xl, TS.Load(y1 + i), b0); b1 = TS.MulAdd(xh, TS.Load(y1 + i + w), b1);
                c0 = TS.MulAdd(xl, TS.Load(y2 + i), c0); c1 = TS.MulAdd(xh, TS.Load(y2 + i + w), c1);
                e0 = TS.MulAdd(xl, TS.Load(y3 + i), e0); e1 = TS.MulAdd(xh, TS.Load(y3 + i + w), e1);
            }
            if (i + w <= len)
            {
                TV xl = TS.Load(x + i);
                a0 = TS.MulAdd(xl, TS.Load(y0 + i), a0);
                b0 = TS.MulAdd(xl, TS.Load(y1 + i), b0);
                c0 = TS.MulAdd(xl, TS.Load(y2 + i), c0);
                e0 = TS.MulAdd(xl, TS.Load(y3 + i), e0);
                i += w;
            }
            float s0 = TS.Sum(TS.Add(a0, a1)), s1 = TS.Sum(TS.Add(b0, b1)), s2 = TS.Sum(TS.Add(c0, c1)), s3 = TS.Sum(TS.Add(e0, e1));
            for (; i < len; i++)
            {
                float xi = x[i];
                s0 = float.MultiplyAddEstimate(xi, y0[i], s0);
                s1 = float.MultiplyAddEstimate(xi, y1[i], s1);
                s2 = float.MultiplyAddEstimate(xi, y2[i], s2);
                s3 = float.MultiplyAddEstimate(xi, y3[i], s3);
            }
            d[0] = s0; d[1] = s1; d[2] = s2; d[3] = s3;
        }

        /// <summary>
        /// acc[0 .. 8w) = sum over p in order of a[p] * b[p * ldb + j], from zero, with the eight vector sums in registers
        /// for all of K: the same operations per element as <see cref="Axpy{TS, TV}"/> over p, without a load and a
        /// store of the sums per p.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Column8<TS, TV>(float* a, float* b, int ldb, int k, float* acc) where TS : struct, ISimd<TV> where TV : struct
        {
            int w = TS.Count;
            TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero, s4 = TS.Zero, s5 = TS.Zero, s6 = TS.Zero, s7 = TS.Zero;
            for (int p = 0; p < k; p++)
            {
                TV x = TS.Broadcast(a[p]);
                float* bp = b + (long)p * ldb;
                s0 = TS.MulAdd(x, TS.Load(bp), s0);
                s1 = TS.MulAdd(x, TS.Load(bp + w), s1);
                s2 = TS.MulAdd(x, TS.Load(bp + 2 * w), s2);
                s3 = TS.MulAdd(x, TS.Load(bp + 3 * w), s3);
                s4 = TS.MulAdd(x, TS.Load(bp + 4 * w), s4);
                s5 = TS.MulAdd(x, TS.Load(bp + 5 * w), s5);
                s6 = TS.MulAdd(x, TS.Load(bp + 6 * w), s6);
                s7 = TS.MulAdd(x, TS.Load(bp + 7 * w), s7);
            }
            TS.Store(acc, s0); TS.Store(acc + w, s1); TS.Store(acc + 2 * w, s2); TS.Store(acc + 3 * w, s3);
            TS.Store(acc + 4 * w, s4); TS.Store(acc + 5 * w, s5); TS.Store(acc + 6 * w, s6); TS.Store(acc + 7 * w, s7);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Axpy<TS, TV>(float alpha, float* x, float* y, int len) where TS : struct, ISimd<TV> where TV : struct
        {
            int w = TS.Count;
            int i = 0;
            if (w > 1)
            {
                TV av = TS.Broadcast(alpha);
                for (; i + w <= len; i += w) TS.Store(y + i, TS.MulAdd(av, TS.Load(x + i), TS.Load(y + i)));
            }
            for (; i < len; i++) y[i] = float.MultiplyAddEstimate(alpha, x[i], y[i]);
        }
    }
}
