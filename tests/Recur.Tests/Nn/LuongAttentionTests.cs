using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Support;

namespace Recur.Tests.Nn;

/// <summary>
/// Luong attention: a float64 twin written from the equations, its analytic gradient against central finite
/// differences, and the float32 layer (forward and backward) against the twin.
/// </summary>
public class LuongAttentionTests
{
    private static double[] R(Rng rng, int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();
    private static float[] F(double[] a) => a.Select(v => (float)v).ToArray();
    private static double[] D(ReadOnlySpan<float> a) => a.ToArray().Select(v => (double)v).ToArray();
    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    /// <summary>y[b, t] = [sum_s a[t, s] E[s]; h[t]] with a = softmax over s &lt; len of h[t] . (W E[s]).</summary>
    private static double[] Forward(double[] e, double[] h, double[] w, int[] len, int b, int s, int t, int m, int q)
    {
        var y = new double[b * t * (m + q)];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++)
            {
                int o = (i * t + j) * (m + q);
                for (int k = 0; k < q; k++) y[o + m + k] = h[(i * t + j) * q + k];
                int n = len[i];
                if (n == 0) continue;
                var score = new double[n];
                for (int p = 0; p < n; p++)
                    for (int k = 0; k < q; k++)
                    {
                        double key = 0;
                        for (int c = 0; c < m; c++) key += w[k * m + c] * e[(i * s + p) * m + c];
                        score[p] += h[(i * t + j) * q + k] * key;
                    }
                double max = score.Max(), sum = score.Sum(v => Math.Exp(v - max));
                for (int p = 0; p < n; p++)
                {
                    double a = Math.Exp(score[p] - max) / sum;
                    for (int c = 0; c < m; c++) y[o + c] += a * e[(i * s + p) * m + c];
                }
            }
        return y;
    }

    /// <summary>The analytic gradient of sum(y * dy) with respect to E, h and W, from the chain rule on the equations.</summary>
    private static (double[] DE, double[] DH, double[] DW) Backward(double[] e, double[] h, double[] w, int[] len, double[] dy, int b, int s, int t, int m, int q)
    {
        double[] dE = new double[e.Length], dH = new double[h.Length], dW = new double[w.Length];
        for (int i = 0; i < b; i++)
        {
            // keys K[p] = W E[p]
            var key = new double[s * q];
            for (int p = 0; p < s; p++)
                for (int k = 0; k < q; k++)
                    for (int c = 0; c < m; c++) key[p * q + k] += w[k * m + c] * e[(i * s + p) * m + c];
            var dKey = new double[s * q];
            for (int j = 0; j < t; j++)
            {
                int o = (i * t + j) * (m + q), hq = (i * t + j) * q;
                for (int k = 0; k < q; k++) dH[hq + k] += dy[o + m + k];
                int n = len[i];
                if (n == 0) continue;
                var a = new double[n];
                for (int p = 0; p < n; p++)
                    for (int k = 0; k < q; k++) a[p] += h[hq + k] * key[p * q + k];
                double max = a.Max(), sum = a.Sum(v => Math.Exp(v - max));
                for (int p = 0; p < n; p++) a[p] = Math.Exp(a[p] - max) / sum;
                var da = new double[n];
                for (int p = 0; p < n; p++)
                    for (int c = 0; c < m; c++)
                    {
                        da[p] += e[(i * s + p) * m + c] * dy[o + c];
                        dE[(i * s + p) * m + c] += a[p] * dy[o + c];
                    }
                double dot = Enumerable.Range(0, n).Sum(p => a[p] * da[p]);
                for (int p = 0; p < n; p++)
                {
                    double ds = a[p] * (da[p] - dot);
                    for (int k = 0; k < q; k++)
                    {
                        dH[hq + k] += ds * key[p * q + k];
                        dKey[p * q + k] += ds * h[hq + k];
                    }
                }
            }
            for (int p = 0; p < s; p++)
                for (int k = 0; k < q; k++)
                    for (int c = 0; c < m; c++)
                    {
                        dW[k * m + c] += dKey[p * q + k] * e[(i * s + p) * m + c];
                        dE[(i * s + p) * m + c] += dKey[p * q + k] * w[k * m + c];
                    }
        }
        return (dE, dH, dW);
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 1, new[] { 1 })]
    [InlineData(3, 4, 2, 3, 5, new[] { 4, 1, 2 })]
    [InlineData(2, 5, 3, 6, 4, new[] { 0, 5 })]     // an empty memory gets a zero context
    public void GradientsMatchTwinAndTwinMatchesFiniteDifferences(int b, int s, int t, int m, int q, int[] len)
    {
        var rng = new Rng((ulong)(b * 1000 + s * 100 + m * 10 + q));
        var layer = new LuongAttention(m, q, new Rng(2));
        double[] e = R(rng, b * s * m), h = R(rng, b * t * q), dy = R(rng, b * t * (m + q));
        double[] w = D(layer.Weight.Value.Span);

        var (dE, dH, dW) = Backward(e, h, w, len, dy, b, s, t, m, q);
        double Loss() => Dot(Forward(e, h, w, len, b, s, t, m, q), dy);
        var fd = new Compare.Report(1e-8);
        fd.Check("dE vs finite differences", dE, FiniteDifferences.Gradient(e, Loss));
        fd.Check("dh vs finite differences", dH, FiniteDifferences.Gradient(h, Loss));
        fd.Check("dW vs finite differences", dW, FiniteDifferences.Gradient(w, Loss));
        fd.AssertAll();

        var result = layer.Forward(Tensor.FromArray(F(e), b, s, m), len, Tensor.FromArray(F(h), b, t, q));
        Assert.Equal([b, t, m + q], result.Output.Shape.ToArray());
        var (gE, gH) = result.Backward(Tensor.FromArray(F(dy), b, t, m + q));
        var report = new Compare.Report(1e-5);
        report.Check("y", result.Output.Span, Forward(e, h, w, len, b, s, t, m, q));
        report.Check("dE", gE.Span, dE);
        report.Check("dh", gH.Span, dH);
        report.Check("dW", layer.Weight.Grad.Span, dW);
        report.AssertAll();

        // The weights are a distribution over the valid steps and zero beyond them.
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++)
            {
                var row = result.Weights.Span.Slice((i * t + j) * s, s);
                Assert.Equal(len[i] == 0 ? 0.0 : 1.0, TensorPrimitives.Sum<float>(row[..len[i]]), 5);
                Assert.All(row[len[i]..].ToArray(), v => Assert.Equal(0f, v));
            }
    }

    [Fact]
    public void APreparedAndRepeatedMemoryGivesTheSameOutputsAsOneCallPerCopy()
    {
        var layer = new LuongAttention(3, 4, new Rng(3));
        var rng = new Rng(4);
        var e = Tensor.FromArray(F(R(rng, 5 * 3)), 1, 5, 3);
        var h = Tensor.FromArray(F(R(rng, 2 * 4)), 2, 1, 4);
        var repeated = layer.Forward(layer.Prepare(e, [4]).Repeat(2), h).Output;
        for (int i = 0; i < 2; i++)
        {
            var alone = layer.Forward(e, [4], Tensor.FromArray(h.Span.Slice(i * 4, 4).ToArray(), 1, 1, 4)).Output;
            Assert.Equal(alone.ToArray(), repeated.Span.Slice(i * 7, 7).ToArray());
        }
    }

    [Fact]
    public void ShapesAndLengthsAreValidated()
    {
        var layer = new LuongAttention(3, 4);
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor(2, 5, 2), [1, 1], new Tensor(2, 1, 4)));
        Assert.Contains("M=3", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(new Tensor(2, 5, 3), [1, 6], new Tensor(2, 1, 4)));
        var q = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor(2, 5, 3), [1, 1], new Tensor(3, 1, 4)));
        Assert.Contains("queries", q.Message);
        Assert.Equal(["weight"], layer.NamedParameters().Select(kv => kv.Key));
    }
}
