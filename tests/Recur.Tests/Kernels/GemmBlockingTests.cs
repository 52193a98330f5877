using System.Runtime.InteropServices;
using Recur.Kernels;
using Recur.Tensors;
using Setting = Recur.Kernels.Gemm.Tuning.Settings;

namespace Recur.Tests.Kernels;

/// <summary>
/// The GEMM's blocking settings (<c>Gemm.Tuning</c>: tile rows, the NC loop, prefetch, masked tails, A read in place)
/// change only the order in which tiles are visited and where A is read from, never the operations on an element of C,
/// so every setting must give exactly the bits of the plain packed 6-row tile, at every vector width and thread count.
/// </summary>
[Collection(nameof(IsolatedCollection))]
public class GemmBlockingTests
{
    /// <summary>An AInPlaceMaxRows (the settings' last field; 0 packs A always) that reads A in place at every M.</summary>
    private const int Always = int.MaxValue;

    private static readonly Setting Plain = new(6, 1, 8, false, false, false);

    private static readonly Setting[] Settings =
    [
        new(8, 1, 8, false, false, false),
        new(12, 1, 8, false, false, false),
        new(0, 1, 8, false, false, false),      // chosen by M
        new(6, 2, 1, false, false, false),      // NC loop, one panel per B block
        new(6, 4, 3, true, true, false),
        new(12, 3, 2, true, true, true),
        new(8, 2, 5, true, false, true),
        new(0, 1, 8, false, false, false),      // the defaults
        new(0, 4, 8, false, false, false),
        new(6, 1, 8, false, false, true),       // masked column tails alone
        new(6, 1, 8, false, false, false, Always),  // A read in place, at every tile height
        new(8, 1, 8, false, false, false, Always),
        new(12, 1, 8, false, false, false, Always),
        new(0, 4, 8, false, false, false, Always),  // in place over several row tiles and the NC loop
        new(8, 2, 1, true, true, true, Always),
        new(0, 4, 8, false, false, false, 64),      // the threshold of gemm-ab's in-place settings
    ];

    public static TheoryData<int, int, int, Transpose, Transpose, float, SimdWidth> Shapes()
    {
        var data = new TheoryData<int, int, int, Transpose, Transpose, float, SimdWidth>();
        foreach (var width in new[] { SimdWidth.V512, SimdWidth.V256, SimdWidth.V128, SimdWidth.Scalar })
        {
            data.Add(13, 70, 300, Transpose.No, Transpose.Yes, 1f, width);     // short last sliver, two k-blocks, column edge
            data.Add(64, 2048, 130, Transpose.No, Transpose.No, 0f, width);    // the step shape (exact 8-row fit)
            data.Add(250, 97, 260, Transpose.Yes, Transpose.No, 1f, width);    // A stored transposed, several row tiles
            data.Add(200, 33, 19, Transpose.Yes, Transpose.Yes, 0.5f, width);  // beta neither 0 nor 1, 1-column edge
            data.Add(5, 40, 600, Transpose.No, Transpose.No, 1f, width);       // the skinny path (M <= 4 is below it)
            data.Add(61, 1000, 270, Transpose.No, Transpose.Yes, 0f, width);  // short last sliver, two column tiles, k over two blocks
            data.Add(300, 97, 260, Transpose.No, Transpose.No, 1f, width);     // several row tiles (the NC loop at 2 threads)
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void EverySettingGivesTheSameBits(int m, int n, int k, Transpose ta, Transpose tb, float beta, SimdWidth width)
    {
        var rng = new Rng(11);
        int lda = (ta == Transpose.No ? k : m) + 1, ldb = (tb == Transpose.No ? n : k) + 3, ldc = n + 2;
        var a = new float[(ta == Transpose.No ? m : k) * lda];
        var b = new float[(tb == Transpose.No ? k : n) * ldb];
        var c0 = new float[m * ldc];
        rng.FillUniform(a, -1f, 1f);
        rng.FillUniform(b, -1f, 1f);
        rng.FillUniform(c0, -1f, 1f);

        byte[] Run(Setting s, int threads)
        {
            int savedThreads = Parallelism.ThreadCount;
            var saved = Gemm.Tuning.Current;
            Gemm.Tuning.Apply(s);
            Parallelism.ThreadCount = threads;
            try
            {
                var c = (float[])c0.Clone();
                fixed (float* pa = a, pb = b, pc = c)
                    Gemm.Multiply(width, ta, tb, m, n, k, 0.75f, pa, lda, pb, ldb, beta, pc, ldc);
                // The pre-packed entry point takes the same tiles.
                var packed = new PackedMatrix();
                fixed (float* pb = b) packed.PackFrom(width, tb, k, n, pb, ldb);
                var c2 = (float[])c0.Clone();
                fixed (float* pa = a, pc = c2)
                    Gemm.MultiplyPacked(ta, m, 0.75f, pa, lda, packed, beta, pc, ldc);
                return [.. MemoryMarshal.AsBytes(c.AsSpan()), .. MemoryMarshal.AsBytes(c2.AsSpan())];
            }
            finally
            {
                Gemm.Tuning.Apply(saved);
                Parallelism.ThreadCount = savedThreads;
            }
        }

        var expected = Run(Plain, 1);
        // The columns past n in each row of C (ldc > n) must be untouched.
        Assert.Equal(MemoryMarshal.AsBytes(c0.AsSpan(n, 2)).ToArray(), expected.AsSpan(n * 4, 8).ToArray());
        foreach (var s in Settings)
            foreach (int threads in new[] { 1, 2, 3 })
                Assert.True(expected.AsSpan().SequenceEqual(Run(s, threads)), $"{s} with {threads} threads differs from the plain 6-row tile");
    }

    [Fact]
    public void TileRowsFitTheStepShapesExactly()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            Assert.Equal(Gemm.MR, Gemm.TileRowsFor(64, SimdWidth.V512));
            return;
        }
        Assert.Equal(0, 32 % Gemm.TileRowsFor(32, SimdWidth.V512));
        Assert.Equal(0, 64 % Gemm.TileRowsFor(64, SimdWidth.V512));
        // Narrower vectors have 16 registers: only the 6-row tile fits them.
        Assert.Equal(Gemm.MR, Gemm.TileRowsFor(64, SimdWidth.V256));
        Assert.Equal(Gemm.MR, Gemm.TileRowsFor(2048, SimdWidth.V128));
    }
}
