using System.Runtime.InteropServices;
using Recur.Kernels;
using Recur.Kernels.Reference;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>
/// A one-row product with a packed right-hand side takes its own kernel (four panels per pass, no packing of A), which
/// must do the tiled path's arithmetic for that row: so a row computed alone equals, bit for bit, the same row computed
/// among others (any row of a many-row product goes through the tiled micro-kernels).
/// </summary>
[Collection(nameof(IsolatedCollection))]
public class PackedRowTests
{
    public static TheoryData<int, int, float, float, SimdWidth> Shapes()
    {
        var data = new TheoryData<int, int, float, float, SimdWidth>();
        foreach (var width in new[] { SimdWidth.V512, SimdWidth.V256, SimdWidth.V128, SimdWidth.Scalar })
        {
            data.Add(2048, 512, 1f, 1f, width);    // the streaming step's h W_hh^T: two k-blocks, whole groups of panels
            data.Add(200, 300, 1f, 0f, width);     // a narrow last panel and a partial group; K not a multiple of KC
            data.Add(97, 7, -0.5f, 0.25f, width);  // alpha and a beta that scales C first
            data.Add(33, 600, 2f, 1f, width);      // three k-blocks, one full panel and a narrow one
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void ARowAloneEqualsTheSameRowAmongOthers(int n, int k, float alpha, float beta, SimdWidth width)
    {
        var rng = new Rng(17);
        const int rows = 7;                     // the tiled path: more than the skinny path's 4 rows
        int lda = k + 2;
        var a = new float[rows * lda];
        var b = new float[k * n];
        var c0 = new float[rows * n];
        rng.FillUniform(a, -1f, 1f);
        rng.FillUniform(b, -1f, 1f);
        rng.FillUniform(c0, -1f, 1f);
        using var force = SimdDispatch.Force(width);
        var packed = new PackedMatrix();
        fixed (float* pb = b) packed.PackFrom(width, Transpose.No, k, n, pb, n);

        var all = (float[])c0.Clone();
        fixed (float* pa = a, pc = all)
            Gemm.MultiplyPacked(Transpose.No, rows, alpha, pa, lda, packed, beta, pc, n);
        for (int i = 0; i < rows; i++)
        {
            var one = c0.AsSpan(i * n, n).ToArray();
            fixed (float* pa = a, pc = one)
                Gemm.MultiplyPacked(Transpose.No, 1, alpha, pa + i * lda, lda, packed, beta, pc, n);
            var expected = MemoryMarshal.AsBytes(all.AsSpan(i * n, n)).ToArray();
            var actual = MemoryMarshal.AsBytes(one.AsSpan()).ToArray();
            if (!expected.AsSpan().SequenceEqual(actual))
            {
                int j = Enumerable.Range(0, n).First(j => BitConverter.SingleToInt32Bits(one[j]) != BitConverter.SingleToInt32Bits(all[i * n + j]));
                Assert.Fail($"row {i} alone differs from the batch at column {j}: {one[j]:R} against {all[i * n + j]:R}");
            }
        }

        // And it is the product: against the naive twin within float rounding.
        var reference = (float[])c0.Clone();
        GemmReference.Sgemm(Transpose.No, Transpose.No, rows, n, k, alpha, a, lda, b, n, beta, reference, n);
        for (int i = 0; i < rows * n; i++)
            Assert.True(Math.Abs(reference[i] - all[i]) <= 1e-4f * (1 + Math.Abs(reference[i])) * Math.Sqrt(k),
                $"element {i}: {all[i]} against the reference {reference[i]}");
    }
}
