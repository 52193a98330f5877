using System.Runtime.CompilerServices;

namespace Recur.Kernels.Reference;

/// <summary>
/// Measures the gate kernels' sigmoid and tanh (<see cref="SimdMath{TS, TV}"/>) against float64 over the floats of
/// [-20, 20]: every <c>stride</c>-th bit pattern of each sign (stride 1 is every float), plus edge values. The error of
/// one value is |f(x) - exact| in units of the spacing of floats at the exact value rounded to float (at least the
/// smallest denormal). The test suite sweeps with a stride; the bound documented on <see cref="SimdMath{TS, TV}"/> is
/// the maximum of a sweep with stride 1 (<c>Recur.Bench activation-ulps</c>).
/// </summary>
internal static unsafe class ActivationUlps
{
    /// <summary>The worst error of one function and the input where it occurs.</summary>
    public readonly record struct Worst(double Ulps, float At, long Count);

    /// <summary>Edge inputs swept besides the strided floats: zeros, denormals, the end points, branch points of old formulas.</summary>
    public static readonly float[] Edges =
    [
        0f, -0f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f, MathF.BitDecrement(0.5f),
        -MathF.BitDecrement(0.5f), 0.34657359f, -0.34657359f, 1f, -1f, 9f, -9f, 9.1f, -9.1f, 20f, -20f,
    ];

    /// <summary>Sweeps [-20, 20] with <paramref name="stride"/> at <paramref name="width"/>; returns the worst sigmoid and tanh errors.</summary>
    public static (Worst Sigmoid, Worst Tanh) Measure(SimdWidth width, int stride, int threads = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        uint last = BitConverter.SingleToUInt32Bits(20f);
        long perSign = last / (uint)stride + 1;
        const int Chunk = 1 << 14;
        long chunks = (2 * perSign + Chunk - 1) / Chunk;
        var gate = new object();
        Worst sig = default, tanh = default;
        long count = 0;
        Parallel.For(0, chunks + 1, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, () => (default(Worst), default(Worst), 0L),
            (c, _, acc) =>
            {
                float[] x;
                if (c == chunks) x = Edges;
                else
                {
                    long i0 = c * Chunk, i1 = Math.Min(2 * perSign, i0 + Chunk);
                    x = new float[i1 - i0];
                    for (long i = i0; i < i1; i++)
                    {
                        long k = i < perSign ? i : i - perSign;
                        float v = BitConverter.UInt32BitsToSingle((uint)Math.Min(last, k * stride));
                        x[i - i0] = i < perSign ? v : -v;
                    }
                }
                var s = new float[x.Length];
                var t = new float[x.Length];
                fixed (float* px = x, ps = s, pt = t)
                {
                    var k = new SweepRows { X = px, Sigmoid = ps, Tanh = pt, N = x.Length };
                    VectorKernel.Run(ref k, width, 0, 1);
                }
                var (ws, wt, n) = acc;
                for (int i = 0; i < x.Length; i++)
                {
                    double u = Ulps(s[i], 1.0 / (1.0 + Math.Exp(-(double)x[i])));
                    if (!(u <= ws.Ulps)) ws = new Worst(u, x[i], 0);
                    u = Ulps(t[i], Math.Tanh(x[i]));
                    if (!(u <= wt.Ulps)) wt = new Worst(u, x[i], 0);
                }
                return (ws, wt, n + x.Length);
            },
            acc =>
            {
                lock (gate)
                {
                    if (!(acc.Item1.Ulps <= sig.Ulps)) sig = acc.Item1;
                    if (!(acc.Item2.Ulps <= tanh.Ulps)) tanh = acc.Item2;
                    count += acc.Item3;
                }
            });
        return (sig with { Count = count }, tanh with { Count = count });
    }

    /// <summary>|actual - exact| in ulps of the float nearest <paramref name="exact"/>; infinity for a non-finite result.</summary>
    public static double Ulps(float actual, double exact)
    {
        if (!float.IsFinite(actual)) return double.PositiveInfinity;
        float e = MathF.Abs((float)exact);
        double ulp = Math.Max(MathF.BitIncrement(e) - e, float.Epsilon);
        return Math.Abs(actual - exact) / ulp;
    }

    private struct SweepRows : IVectorKernel
    {
        public float* X, Sigmoid, Tanh;
        public int N;

        public readonly void Rows<TS, TV>(int r0, int r1) where TS : struct, ISimd<TV> where TV : struct
        {
            int j = Columns<TS, TV>(X, Sigmoid, Tanh, N, 0);
            Columns<Simd1, float>(X, Sigmoid, Tanh, N, j);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Columns<TS, TV>(float* x, float* s, float* t, int n, int j) where TS : struct, ISimd<TV> where TV : struct
        {
            for (; j + TS.Count <= n; j += TS.Count)
            {
                TV v = TS.Load(x + j);
                TS.Store(s + j, SimdMath<TS, TV>.Sigmoid(v));
                TS.Store(t + j, SimdMath<TS, TV>.Tanh(v));
            }
            return j;
        }
    }
}
