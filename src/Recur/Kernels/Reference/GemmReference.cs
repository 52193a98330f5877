namespace Recur.Kernels.Reference;

/// <summary>
/// The naive twin of <see cref="Gemm"/>: the textbook triple loop, accumulated in float64.
/// Tests compare the fast kernel against it; it is never used for real work.
/// </summary>
public static class GemmReference
{
    /// <summary><c>C = alpha * op(A) * op(B) + beta * C</c>, row-major, same conventions as <see cref="Gemm.Sgemm(Transpose, Transpose, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>.</summary>
    public static void Sgemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = transA == Transpose.No ? a[i * lda + p] : a[p * lda + i];
                    double y = transB == Transpose.No ? b[p * ldb + j] : b[j * ldb + p];
                    sum += x * y;
                }
                double old = beta == 0f ? 0.0 : beta * (double)c[i * ldc + j];
                c[i * ldc + j] = (float)(alpha * sum + old);
            }
        }
    }
}
