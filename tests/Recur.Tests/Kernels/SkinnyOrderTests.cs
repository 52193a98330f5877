using Recur.Kernels;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>
/// Twins of the skinny product (at most <see cref="Gemm.SkinnyRows"/> rows, no packing): its summation order per element
/// is part of the results (a streaming step or a one-sequence model computes it), so the fast paths must keep it bit for
/// bit. With B stored transposed every element is <c>Gemm.Skinny.Dot</c> of a row of A and a row of B; with B stored
/// (K, N) every element is a sum over p in order, from zero, one fused multiply-add per term.
/// </summary>
public class SkinnyOrderTests
{
    public static TheoryData<int, int, int, SimdWidth> Shapes()
    {
        var data = new TheoryData<int, int, int, SimdWidth>();
        foreach (var width in new[] { SimdWidth.V512, SimdWidth.V256, SimdWidth.V128, SimdWidth.Scalar })
        {
            data.Add(1, 2048, 512, width);   // the streaming step's h W_hh^T (and dh = dG W_hh with K = 2048)
            data.Add(1, 131, 77, width);     // column edges: not a multiple of 4 columns or of 8 vectors; K tails
            data.Add(3, 300, 33, width);
            data.Add(4, 257, 1000, width);
            data.Add(2, 5, 3, width);        // fewer columns than one run of 8 vectors
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void EachElementKeepsTheSkinnyOrder(int m, int n, int k, SimdWidth width)
    {
        // Above the hardware's width, vectors are emulated and their multiply-add need not be fused: the (K, N) twin,
        // which fuses, then applies only to the widths the machine runs natively. The Dot twin holds everywhere.
        bool fused = width <= SimdDispatch.Hardware;
        var rng = new Rng(5);
        int lda = k + 1;
        var a = new float[m * lda];
        var bt = new float[n * (k + 3)];          // B stored transposed: (N, K), row stride K + 3
        var bn = new float[k * (n + 2)];          // B stored (K, N), row stride N + 2
        rng.FillUniform(a, -1f, 1f);
        rng.FillUniform(bt, -1f, 1f);
        rng.FillUniform(bn, -1f, 1f);
        int ldc = n + 1;
        var c0 = new float[m * ldc];
        rng.FillUniform(c0, -1f, 1f);

        foreach (float beta in new[] { 0f, 1f })
        {
            var ct = (float[])c0.Clone();
            var cn = (float[])c0.Clone();
            fixed (float* pa = a, pbt = bt, pbn = bn, pct = ct, pcn = cn)
            {
                Gemm.Multiply(width, Transpose.No, Transpose.Yes, m, n, k, 1f, pa, lda, pbt, k + 3, beta, pct, ldc);
                Gemm.Multiply(width, Transpose.No, Transpose.No, m, n, k, 1f, pa, lda, pbn, n + 2, beta, pcn, ldc);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        float dot = width switch
                        {
                            SimdWidth.V512 => Gemm.Skinny.Dot<Simd512, System.Runtime.Intrinsics.Vector512<float>>(pa + i * lda, pbt + (long)j * (k + 3), k),
                            SimdWidth.V256 => Gemm.Skinny.Dot<Simd256, System.Runtime.Intrinsics.Vector256<float>>(pa + i * lda, pbt + (long)j * (k + 3), k),
                            SimdWidth.V128 => Gemm.Skinny.Dot<Simd128, System.Runtime.Intrinsics.Vector128<float>>(pa + i * lda, pbt + (long)j * (k + 3), k),
                            _ => Gemm.Skinny.Dot<Simd1, float>(pa + i * lda, pbt + (long)j * (k + 3), k),
                        };
                        float sum = 0f;
                        for (int p = 0; p < k; p++) sum = MathF.FusedMultiplyAdd(a[i * lda + p], bn[p * (n + 2) + j], sum);
                        float c = c0[i * ldc + j];
                        float wantT = beta == 0f ? dot : MathF.FusedMultiplyAdd(beta, c, dot);
                        float wantN = beta == 0f ? sum : MathF.FusedMultiplyAdd(beta, c, sum);
                        Assert.True(BitConverter.SingleToInt32Bits(wantT) == BitConverter.SingleToInt32Bits(ct[i * ldc + j]),
                            $"B transposed, beta {beta}: C[{i},{j}] = {ct[i * ldc + j]:R}, the dot in order gives {wantT:R}");
                        if (fused)
                            Assert.True(BitConverter.SingleToInt32Bits(wantN) == BitConverter.SingleToInt32Bits(cn[i * ldc + j]),
                                $"B stored (K, N), beta {beta}: C[{i},{j}] = {cn[i * ldc + j]:R}, the sum over p in order gives {wantN:R}");
                    }
            }
        }
    }
}
