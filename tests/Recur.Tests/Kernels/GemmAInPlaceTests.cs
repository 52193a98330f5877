using System.Runtime.InteropServices;
using Recur.KernelCheck;
using Recur.Kernels;
using Recur.Kernels.Reference;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>
/// A read in place (<c>Gemm.Tuning.AInPlaceMaxRows</c>): the micro-kernels read rows of A where they are stored instead
/// of a packed copy. Every element of C must get the packed path's bits (the same FMAs in the same order), over every
/// row count that leaves a short last sliver of the 6-, 8- and 12-row tiles, and a short sliver must never load a row
/// past the last one of A.
/// </summary>
[Collection(nameof(IsolatedCollection))]
public class GemmAInPlaceTests
{
    public static TheoryData<SimdWidth> Widths() => [SimdWidth.V512, SimdWidth.V256, SimdWidth.V128, SimdWidth.Scalar];

    /// <summary>0 chooses the tile height by M (8 rows for M = 8, 16, ..., 64 on AVX-512); 8 and 12 fall back to 6 below V512.</summary>
    private static readonly int[] TileRows = [0, 6, 8, 12];

    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void InPlaceGivesThePackedBitsForEveryRowCountAndMatchesTheTwin(SimdWidth width)
    {
        var rng = new Rng(23);
        for (int m = 1; m <= 70; m++)
        {
            // Column edges at every panel width (37 is a multiple of none of 32, 16, 8, 2; 70 of none but 2), K over two
            // k-blocks (300, not a multiple of KC) or one short block, row strides beyond K.
            int n = m % 2 == 0 ? 70 : 37;
            int k = m % 3 == 0 ? 19 : 300;
            int lda = k + 1 + m % 4, ldc = n + 3;
            var tb = m % 2 == 0 ? Transpose.No : Transpose.Yes;
            int ldb = tb == Transpose.No ? n : k;
            float beta = (m % 3) switch { 0 => 0f, 1 => 1f, _ => 0.5f };
            const float alpha = -0.75f;
            var a = new float[(m - 1) * lda + k];
            var b = new float[(tb == Transpose.No ? k : n) * ldb];
            var c0 = new float[m * ldc];
            rng.FillUniform(a, -1f, 1f);
            rng.FillUniform(b, -1f, 1f);
            rng.FillUniform(c0, -1f, 1f);
            if (beta == 0f) Array.Fill(c0, float.NaN);   // beta = 0 must not read C

            var packed = new PackedMatrix();
            fixed (float* pb = b) packed.PackFrom(width, tb, k, n, pb, ldb);

            float[] Run(int tileRows, int inPlaceMaxRows)
            {
                var saved = (Gemm.Tuning.TileRows, Gemm.Tuning.AInPlaceMaxRows);
                Gemm.Tuning.TileRows = tileRows;
                Gemm.Tuning.AInPlaceMaxRows = inPlaceMaxRows;
                try
                {
                    var c = (float[])c0.Clone();
                    fixed (float* pa = a, pc = c)
                        Gemm.MultiplyPacked(Transpose.No, m, alpha, pa, lda, packed, beta, pc, ldc);
                    return c;
                }
                finally
                {
                    (Gemm.Tuning.TileRows, Gemm.Tuning.AInPlaceMaxRows) = saved;
                }
            }

            var expected = beta == 0f ? new float[c0.Length] : (float[])c0.Clone();
            GemmReference.Sgemm(Transpose.No, tb, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
            foreach (int tileRows in TileRows)
            {
                var fromPacked = Run(tileRows, 0);
                var inPlace = Run(tileRows, int.MaxValue);
                Assert.True(MemoryMarshal.AsBytes(fromPacked.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(inPlace.AsSpan())),
                    $"m={m} n={n} k={k} lda={lda} tile rows {tileRows} at {width}: A read in place gives other bits than A packed");
                double err = KernelTwinChecks.MaxScaledError(inPlace, expected, m, n, ldc, k);
                Assert.True(err <= 1.0, $"m={m} n={n} k={k} tile rows {tileRows} at {width}: {err:F2} x the rounding budget from GemmReference");
                // The columns past n in each row of C are untouched.
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc; j++)
                        Assert.Equal(BitConverter.SingleToInt32Bits(c0[i * ldc + j]), BitConverter.SingleToInt32Bits(inPlace[i * ldc + j]));
            }
        }
    }

    /// <summary>
    /// A ends exactly where an inaccessible page begins, so a load of a row past the last one (a short sliver reading
    /// the padding rows a packed sliver has) or past column K of the last row faults. Linux only (mmap/mprotect).
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public unsafe void AShortSliverNeverReadsPastTheLastRowOfA(SimdWidth width)
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("needs mmap/mprotect to put a guard page after A (Linux only)");
        int page = Environment.SystemPageSize;
        const int n = 40, maxM = 70, maxK = 300;
        nuint dataBytes = (nuint)(((long)maxM * (maxK + 3) * sizeof(float) + page - 1) / page * page);
        nint region = Mmap(0, dataBytes + (nuint)page, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        Assert.True(region != -1, $"mmap failed (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            Assert.Equal(0, Mprotect(region + (nint)dataBytes, (nuint)page, ProtNone));
            float* guard = (float*)(region + (nint)dataBytes);
            var rng = new Rng(5);
            var bs = new float[maxK * n];
            rng.FillUniform(bs, -1f, 1f);
            var c = new float[maxM * n];
            foreach (int k in new[] { 7, 300 })
            {
                var packed = new PackedMatrix();
                fixed (float* pb = bs) packed.PackFrom(width, Transpose.No, k, n, pb, n);
                for (int m = 1; m <= maxM; m++)
                {
                    int lda = k + 3;
                    long need = (long)(m - 1) * lda + k;
                    float* a = guard - need;              // the last element of A is the last float before the guard page
                    rng.FillUniform(new Span<float>(a, (int)need), -1f, 1f);
                    foreach (int tileRows in TileRows)
                    {
                        var saved = (Gemm.Tuning.TileRows, Gemm.Tuning.AInPlaceMaxRows);
                        Gemm.Tuning.TileRows = tileRows;
                        Gemm.Tuning.AInPlaceMaxRows = int.MaxValue;
                        try
                        {
                            fixed (float* pc = c) Gemm.MultiplyPacked(Transpose.No, m, 1f, a, lda, packed, 0f, pc, n);
                        }
                        finally
                        {
                            (Gemm.Tuning.TileRows, Gemm.Tuning.AInPlaceMaxRows) = saved;
                        }
                    }
                    // Reaching here means no load touched the guard page; check that the product was computed at all.
                    float c00 = 0f;
                    for (int p = 0; p < k; p++) c00 += a[p] * bs[p * n];
                    Assert.True(Math.Abs(c[0] - c00) <= 1e-4f * k, $"m={m} k={k}: C[0, 0] = {c[0]}, expected about {c00}");
                }
            }
        }
        finally
        {
            Munmap(region, dataBytes + (nuint)page);
        }
    }

    private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, MapPrivate = 0x02, MapAnonymous = 0x20;

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static extern int Mprotect(nint addr, nuint length, int prot);

    [DllImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static extern int Munmap(nint addr, nuint length);
}
