using BenchmarkDotNet.Attributes;
using Recur.Kernels;
using Recur.Kernels.Reference;
using Recur.Tensors;

namespace Recur.Bench;

/// <summary>
/// Kernel micro-benchmarks, like with like in one run: the fast SGEMM at each vector width against its naive twin,
/// and the fused LSTM step kernel at each width. Run with <c>kernels --filter *</c>.
/// </summary>
[MemoryDiagnoser]
public unsafe class KernelBenchmarks
{
    private float[] a = [], b = [], c = [];
    private float[] gates = [], cPrev = [], cOut = [], tanhC = [], h = [];
    private const int N = 256;
    private const int Rows = 64, Hidden = 512;

    [Params(SimdWidth.Scalar, SimdWidth.V128, SimdWidth.V256, SimdWidth.V512)]
    public SimdWidth Width { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        a = new float[N * N]; b = new float[N * N]; c = new float[N * N];
        rng.FillUniform(a, -1, 1);
        rng.FillUniform(b, -1, 1);
        gates = new float[Rows * 4 * Hidden]; cPrev = new float[Rows * Hidden]; cOut = new float[Rows * Hidden];
        tanhC = new float[Rows * Hidden]; h = new float[Rows * Hidden];
        rng.FillUniform(gates, -2, 2);
        rng.FillUniform(cPrev, -1, 1);
    }

    [Benchmark(Description = "sgemm 256^3")]
    public void Sgemm()
    {
        using var _ = SimdDispatch.Force(Width);
        Gemm.Sgemm(Transpose.No, Transpose.No, N, N, N, 1f, a, N, b, N, 0f, c, N);
    }

    [Benchmark(Description = "naive sgemm 256^3")]
    public void NaiveSgemm()
    {
        if (Width != SimdWidth.Scalar) return; // the twin has no widths; time it once
        GemmReference.Sgemm(Transpose.No, Transpose.No, N, N, N, 1f, a, N, b, N, 0f, c, N);
    }

    [Benchmark(Description = "lstm step 64x512")]
    public void LstmStep()
    {
        fixed (float* g = gates, cp = cPrev, co = cOut, t = tanhC, hh = h)
        {
            var k = new LstmForwardKernel { Width = Width, H = Hidden, Gates = g, LdGates = 4 * Hidden, CPrev = cp, LdCPrev = Hidden, C = co, LdC = Hidden, TanhC = t, LdTanhC = Hidden, HOut = hh, LdH = Hidden };
            k.Run(0, Rows);
        }
    }
}
