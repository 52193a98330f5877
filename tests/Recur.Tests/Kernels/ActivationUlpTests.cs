using System.Runtime.Intrinsics;
using Recur.Kernels;
using Recur.Kernels.Reference;

namespace Recur.Tests.Kernels;

/// <summary>
/// The gate kernels' sigmoid and tanh against float64 over a dense sweep of [-20, 20] (every 126th float of each
/// sign, 17 million inputs, plus edge values), asserting the bound documented in docs/engine.md ("Cell math":
/// 2.5 ulp for both, the maxima, 2.48 and 2.49, of the sweep over every 7th float, <c>Recur.Bench activation-ulps
/// --stride 7</c>, of which this sweep is a subset), and that every vector width gives the scalar path's bits.
/// </summary>
public class ActivationUlpTests
{
    /// <summary>Documented bounds (docs/engine.md "Cell math").</summary>
    private const double SigmoidBound = 2.5, TanhBound = 2.5;

    [Fact]
    public void SigmoidAndTanhStayWithinTheDocumentedUlpBounds()
    {
        var width = SimdDispatch.Hardware;
        var (sigmoid, tanh) = ActivationUlps.Measure(width, stride: 126, threads: 2);
        Assert.True(sigmoid.Count > 17_000_000, $"swept only {sigmoid.Count} inputs");
        Assert.True(sigmoid.Ulps <= SigmoidBound, $"sigmoid at {width}: {sigmoid.Ulps} ulp at x = {sigmoid.At:R} (bound {SigmoidBound})");
        Assert.True(tanh.Ulps <= TanhBound, $"tanh at {width}: {tanh.Ulps} ulp at x = {tanh.At:R} (bound {TanhBound})");
        // Not vacuous: the sweep does see rounding errors.
        Assert.True(sigmoid.Ulps > 0.25 && tanh.Ulps > 0.25, $"{sigmoid.Ulps} {tanh.Ulps}");
    }

    [Fact]
    public void ScalarPathStaysWithinTheSameBounds()
    {
        var (sigmoid, tanh) = ActivationUlps.Measure(SimdWidth.Scalar, stride: 1022, threads: 2);
        Assert.True(sigmoid.Ulps <= SigmoidBound, $"sigmoid: {sigmoid.Ulps} ulp at x = {sigmoid.At:R}");
        Assert.True(tanh.Ulps <= TanhBound, $"tanh: {tanh.Ulps} ulp at x = {tanh.At:R}");
    }

    [Fact]
    public unsafe void EveryWidthGivesTheScalarPathsBits()
    {
        // 40,000 inputs over [-20, 20] (two per 1e-3, so both signs and every exponent the kernels reach) and the edges.
        var x = Enumerable.Range(0, 40_001).Select(i => -20f + 40f * i / 40_000).Concat(ActivationUlps.Edges)
            .Concat([float.PositiveInfinity, float.NegativeInfinity, 100f, -100f, 88.5f, -88.5f]).ToArray();
        float[] Run(SimdWidth width)
        {
            // Through the RNN kernel (tanh) and the LSTM kernel's i gate (sigmoid), as the cells call them.
            var tanh = new float[x.Length];
            var g4 = new float[4 * x.Length];
            Array.Copy(x, g4, x.Length);
            var zeros = new float[x.Length]; var c = new float[x.Length]; var h = new float[x.Length];
            fixed (float* px = x, pt = tanh, pg = g4, pz = zeros, pc = c, ph = h)
            {
                new RnnForwardKernel { Width = width, H = x.Length, Gates = px, LdGates = x.Length, HOut = pt, LdH = x.Length }.Run(0, 1);
                new LstmForwardKernel { Width = width, H = x.Length, Gates = pg, LdGates = 4 * x.Length, CPrev = pz, LdCPrev = x.Length, C = pc, LdC = x.Length, HOut = ph, LdH = x.Length }.Run(0, 1);
            }
            return [.. tanh, .. g4.AsSpan(0, x.Length)];
        }
        float[] scalar = Run(SimdWidth.Scalar);
        foreach (var width in new[] { SimdWidth.V128, SimdWidth.V256, SimdWidth.V512 })
        {
            float[] wide;
            using (SimdDispatch.Force(width)) wide = Run(width);
            for (int i = 0; i < scalar.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(scalar[i]) == BitConverter.SingleToInt32Bits(wide[i]),
                    $"{width} {(i < x.Length ? "tanh" : "sigmoid")}({x[i % x.Length]:R}) = {wide[i]:R}, scalar {scalar[i]:R}");
        }
    }

    [Fact]
    public unsafe void EdgesSaturateAndKeepTheSign()
    {
        float[] x = [0f, -0f, float.Epsilon, -float.Epsilon, 9.2f, -9.2f, 50f, -50f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue];
        var t = new float[x.Length];
        var g4 = new float[4 * x.Length];
        Array.Copy(x, g4, x.Length);
        var zeros = new float[x.Length]; var c = new float[x.Length]; var h = new float[x.Length];
        fixed (float* px = x, pt = t, pg = g4, pz = zeros, pc = c, ph = h)
        {
            new RnnForwardKernel { Width = SimdDispatch.Hardware, H = x.Length, Gates = px, LdGates = x.Length, HOut = pt, LdH = x.Length }.Run(0, 1);
            new LstmForwardKernel { Width = SimdDispatch.Hardware, H = x.Length, Gates = pg, LdGates = 4 * x.Length, CPrev = pz, LdCPrev = x.Length, C = pc, LdC = x.Length, HOut = ph, LdH = x.Length }.Run(0, 1);
        }
        Assert.Equal(BitConverter.SingleToInt32Bits(0f), BitConverter.SingleToInt32Bits(t[0]));
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(t[1]));
        Assert.Equal(float.Epsilon, t[2]);
        Assert.Equal(-float.Epsilon, t[3]);
        for (int i = 4; i < x.Length; i++) Assert.Equal(MathF.Sign(x[i]) * 1f, t[i]);
        Assert.Equal(0.5f, g4[0]);
        Assert.Equal(0.5f, g4[1]);
        for (int i = 4; i < x.Length; i++)
        {
            // sigmoid(9.2) = 0.99990; from x = 17 on the exact value rounds to 1.
            if (x[i] > 0) Assert.Equal(x[i] > 17 ? 1f : 0.99989897f, g4[i], x[i] > 17 ? 0f : 1e-7f);
            else Assert.InRange(g4[i], 0f, x[i] < -80 ? 1.2e-38f : 1.02e-4f);
        }
    }
}
