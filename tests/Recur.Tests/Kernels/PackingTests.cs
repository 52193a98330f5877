using Recur.Kernels;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>
/// GEMM packing only moves floats, so the vectorised packing (8 x 8 register transposes) must give exactly the
/// documented panel layout, and a product must be bitwise the same with the transposes on or off.
/// </summary>
[Collection(nameof(IsolatedCollection))]
public class PackingTests
{
    public static TheoryData<int, int, Transpose, SimdWidth> PackShapes() => new()
    {
        { 300, 77, Transpose.Yes, SimdWidth.V512 },   // k over two KC blocks, a partial panel, k and n not multiples of 8
        { 300, 77, Transpose.No, SimdWidth.V512 },
        { 64, 2048, Transpose.Yes, SimdWidth.V512 },
        { 7, 13, Transpose.Yes, SimdWidth.V256 },     // smaller than one 8 x 8 block
        { 517, 40, Transpose.Yes, SimdWidth.V256 },
        { 33, 9, Transpose.Yes, SimdWidth.V128 },
        { 9, 5, Transpose.Yes, SimdWidth.Scalar },
    };

    [Theory]
    [MemberData(nameof(PackShapes))]
    public unsafe void PackedPanelsHoldOpBInTheDocumentedLayout(int k, int n, Transpose trans, SimdWidth width)
    {
        int ld = (trans == Transpose.No ? n : k) + 3;
        var b = new float[(trans == Transpose.No ? k : n) * ld];
        new Rng(5).FillUniform(b, -1f, 1f);
        float OpB(int p, int j) => trans == Transpose.No ? b[p * ld + j] : b[j * ld + p];

        var packed = new PackedMatrix();
        fixed (float* pb = b) packed.PackFrom(width, trans, k, n, pb, ld);
        int nr = Gemm.PanelWidth(width);
        for (int k0 = 0; k0 < k; k0 += Gemm.KC)
        {
            int kc = Math.Min(Gemm.KC, k - k0);
            for (int jp = 0; jp < (n + nr - 1) / nr; jp++)
            {
                float* panel = packed.Panel(k0, kc, jp);
                for (int p = 0; p < kc; p++)
                    for (int j = 0; j < nr; j++)
                    {
                        int col = jp * nr + j;
                        float expected = col < n ? OpB(k0 + p, col) : 0f;
                        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(panel[p * nr + j]),
                            $"k0={k0} panel={jp} p={p} j={j}: expected {expected}, packed {panel[p * nr + j]}");
                    }
            }
        }
    }

    public static TheoryData<int, int, int, Transpose, Transpose> ProductShapes() => new()
    {
        { 13, 70, 300, Transpose.No, Transpose.Yes },   // a short last sliver (13 = 2 x 6 + 1), k % 8 != 0
        { 64, 2048, 512, Transpose.No, Transpose.Yes }, // the LSTM step product
        { 97, 250, 260, Transpose.Yes, Transpose.No },  // A stored transposed (the dW products)
        { 36, 33, 19, Transpose.Yes, Transpose.Yes },
    };

    [Theory]
    [MemberData(nameof(ProductShapes))]
    public void ProductsAreBitwiseTheSameWithTheTransposesOnOrOff(int m, int n, int k, Transpose ta, Transpose tb)
    {
        var rng = new Rng(8);
        int lda = (ta == Transpose.No ? k : m) + 1, ldb = (tb == Transpose.No ? n : k) + 2;
        var a = new float[(ta == Transpose.No ? m : k) * lda];
        var b = new float[(tb == Transpose.No ? k : n) * ldb];
        var c0 = new float[m * n];
        rng.FillUniform(a, -1f, 1f);
        rng.FillUniform(b, -1f, 1f);
        rng.FillUniform(c0, -1f, 1f);
        float[] Run(bool vectorised)
        {
            bool saved = PackTranspose.Enabled;
            PackTranspose.Enabled = vectorised;
            try
            {
                var c = (float[])c0.Clone();
                Gemm.Sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 1f, c, n);
                return c;
            }
            finally { PackTranspose.Enabled = saved; }
        }
        Assert.Equal(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Run(false).AsSpan()).ToArray(),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(Run(true).AsSpan()).ToArray());
    }
}
