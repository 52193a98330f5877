using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Reference;
using Recur.Tests.Support;

namespace Recur.Tests.Nn;

/// <summary>
/// Linear, Embedding, Dropout, the activations and the losses: each float64 twin against central finite
/// differences, and each float32 layer against its twin.
/// </summary>
public class LayerTests
{
    private static double[] R(Rng rng, int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();
    private static float[] F(double[] a) => a.Select(v => (float)v).ToArray();
    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    [Theory]
    [InlineData(1, 1, 1, true)]
    [InlineData(5, 3, 4, true)]
    [InlineData(7, 17, 9, false)]
    [InlineData(33, 65, 31, true)]
    public void LinearMatchesTwinAndTwinMatchesFiniteDifferences(int n, int inF, int outF, bool bias)
    {
        var rng = new Rng((ulong)(n * 100 + inF));
        var layer = new Linear(inF, outF, bias, new Rng(1));
        double[] x = R(rng, n * inF), w = layer.Weight.Value.ToArray().Select(v => (double)v).ToArray();
        double[]? b = bias ? layer.Bias!.Value.ToArray().Select(v => (double)v).ToArray() : null;
        double[] ry = R(rng, n * outF);

        // Twin vs finite differences (on small shapes).
        var (dx, dw, db) = LayerReference.LinearBackward(x, w, ry, n, inF, outF);
        if (n * inF * outF <= 500)
        {
            double Loss() => Dot(LayerReference.LinearForward(x, w, b, n, inF, outF), ry);
            var fd = new Compare.Report(1e-8);
            fd.Check("dx", dx, FiniteDifferences.Gradient(x, Loss));
            fd.Check("dW", dw, FiniteDifferences.Gradient(w, Loss));
            if (b is not null) fd.Check("db", db, FiniteDifferences.Gradient(b, Loss));
            fd.AssertAll();
        }

        // Layer (with a leading batch shape) vs twin.
        var xt = Tensor.FromArray(F(x), 1, n, inF);
        var result = layer.Forward(xt);
        var y = result.Output;
        Assert.Equal([1, n, outF], y.Shape.ToArray());
        var gx = result.Backward(Tensor.FromArray(F(ry), 1, n, outF));
        var report = new Compare.Report(1e-5);
        report.Check("y", y.Span, LayerReference.LinearForward(x, w, b, n, inF, outF));
        report.Check("dx", gx.Span, dx);
        report.Check("dW", layer.Weight.Grad.Span, dw);
        if (bias) report.Check("db", layer.Bias!.Grad.Span, db);
        report.AssertAll();
    }

    [Fact]
    public void EmbeddingLooksUpRowsAndScattersGradientsExceptPadding()
    {
        var emb = new Embedding(6, 4, paddingIndex: 2, rng: new Rng(3));
        for (int j = 0; j < 4; j++) Assert.Equal(0f, emb.Weight.Value[2, j]);
        int[] ids = [1, 2, 5, 1, 0, 2];
        var result = emb.Forward(ids, [2, 3]);
        var y = result.Output;
        Assert.Equal([2, 3, 4], y.Shape.ToArray());
        for (int i = 0; i < ids.Length; i++)
            for (int j = 0; j < 4; j++) Assert.Equal(emb.Weight.Value[ids[i], j], y.Span[i * 4 + j]);

        // d/dW of sum(y * R): row v collects the R rows of every position holding v; finite differences agree.
        var rng = new Rng(4);
        double[] r = R(rng, ids.Length * 4);
        result.Backward(Tensor.FromArray(F(r), 2, 3, 4));
        double[] w = emb.Weight.Value.ToArray().Select(v => (double)v).ToArray();
        double Loss()
        {
            double s = 0;
            for (int i = 0; i < ids.Length; i++)
                for (int j = 0; j < 4; j++) s += w[ids[i] * 4 + j] * r[i * 4 + j];
            return s;
        }
        var fd = FiniteDifferences.Gradient(w, Loss);
        for (int j = 0; j < 4; j++) fd[2 * 4 + j] = 0; // padding row: no gradient, by definition
        var report = new Compare.Report(1e-6);
        report.Check("dW", emb.Weight.Grad.Span, fd);
        report.AssertAll();
    }

    [Fact]
    public void DropoutDropsAboutPScalesTheRestIsSeededAndIdentityInEval()
    {
        var x = Tensor.FromArray(Enumerable.Repeat(1f, 20000).ToArray(), 100, 200);
        var result = new Dropout(0.3f, new Rng(5)).Forward(x);
        var (y, mask) = (result.Output, result.Mask);
        int zeros = y.ToArray().Count(v => v == 0f);
        Assert.InRange(zeros / 20000.0, 0.28, 0.32);
        Assert.All(y.ToArray().Where(v => v != 0f), v => Assert.Equal(1f / 0.7f, v, 1e-6f));
        var y2 = new Dropout(0.3f, new Rng(5)).Forward(x).Output;
        Assert.Equal(y.ToArray(), y2.ToArray());

        // Backward: dx = dy * mask, the derivative of the forward map for a fixed mask.
        var dy = Tensor.FromArray(Enumerable.Range(0, 20000).Select(i => (float)Math.Sin(i)).ToArray(), 100, 200);
        var dx = result.Backward(dy);
        for (int i = 0; i < 20000; i += 997) Assert.Equal(dy.Span[i] * mask!.Span[i], dx.Span[i]);

        var eval = new Dropout(0.3f, new Rng(5)) { Training = false };
        var inactive = eval.Forward(x);
        Assert.Null(inactive.Mask);
        Assert.Equal(x.ToArray(), inactive.Output.ToArray());
        Assert.Equal(dy.ToArray(), inactive.Backward(dy).ToArray());
    }

    public static TheoryData<string> ActivationNames() => ["sigmoid", "tanh", "relu", "softmax"];

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void ActivationsMatchTwinAndFiniteDifferences(string name)
    {
        var rng = new Rng(6);
        int rows = 3, c = 7;
        double[] x = R(rng, rows * c, 3), ry = R(rng, rows * c);
        Func<double[], double[]> f = name switch
        {
            "sigmoid" => a => a.Select(LayerReference.Sigmoid).ToArray(),
            "tanh" => a => a.Select(Math.Tanh).ToArray(),
            "relu" => a => a.Select(v => Math.Max(v, 0)).ToArray(),
            _ => a => LayerReference.Softmax(a, rows, c),
        };
        double[] yRef = f(x);
        // Analytic dx from the output, the same formulas the layer uses, checked against finite differences.
        double[] dxRef = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            dxRef[i] = name switch
            {
                "sigmoid" => ry[i] * yRef[i] * (1 - yRef[i]),
                "tanh" => ry[i] * (1 - yRef[i] * yRef[i]),
                "relu" => yRef[i] > 0 ? ry[i] : 0,
                _ => yRef[i] * (ry[i] - Enumerable.Range(0, c).Sum(j => ry[i / c * c + j] * yRef[i / c * c + j])),
            };
        var fd = new Compare.Report(1e-8);
        fd.Check("dx vs finite differences", dxRef, FiniteDifferences.Gradient(x, () => Dot(f(x), ry)));
        fd.AssertAll();

        var xt = Tensor.FromArray(F(x), rows, c);
        var dy = Tensor.FromArray(F(ry), rows, c);
        var result = name switch
        {
            "sigmoid" => Activations.Sigmoid(xt),
            "tanh" => Activations.Tanh(xt),
            "relu" => Activations.Relu(xt),
            _ => Activations.Softmax(xt),
        };
        var (y, dx) = (result.Output, result.Backward(dy));
        var report = new Compare.Report(2e-6);
        report.Check("y", y.Span, yRef);
        report.Check("dx", dx.Span, dxRef);
        report.AssertAll();
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.1, false)]
    [InlineData(0.0, true)]
    [InlineData(0.25, true)]
    public void CrossEntropyMatchesTwinAndFiniteDifferences(double smoothing, bool withIgnored)
    {
        var rng = new Rng(7);
        int rows = 6, c = 5;
        double[] logits = R(rng, rows * c, 4);
        int[] target = Enumerable.Range(0, rows).Select(i => withIgnored && i % 3 == 1 ? -100 : (i * 3) % c).ToArray();
        var (loss, grad) = LayerReference.CrossEntropy(logits, target, rows, c, -100, smoothing);
        var fd = new Compare.Report(1e-8);
        fd.Check("dlogits vs finite differences", grad, FiniteDifferences.Gradient(logits, () => LayerReference.CrossEntropy(logits, target, rows, c, -100, smoothing).Loss));
        fd.AssertAll();

        var d = new Tensor(rows, c);
        float l = new CrossEntropyLoss(labelSmoothing: (float)smoothing).Forward(Tensor.FromArray(F(logits), rows, c), target, d);
        var report = new Compare.Report(2e-6);
        report.Check("loss", new[] { l }, new[] { loss });
        report.Check("dlogits", d.Span, grad);
        report.AssertAll();
    }

    [Fact]
    public void CrossEntropyWithEveryRowIgnoredIsZero()
    {
        var d = new Tensor(2, 3);
        d.Span.Fill(5f);
        Assert.Equal(0f, new CrossEntropyLoss().Forward(new Tensor(2, 3), [-100, -100], d));
        Assert.All(d.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void MseAndBceMatchTwinsAndFiniteDifferences()
    {
        var rng = new Rng(8);
        double[] p = R(rng, 11, 3), t = R(rng, 11, 3), y01 = Enumerable.Range(0, 11).Select(i => i % 3 == 0 ? 1.0 : i % 3 == 1 ? 0.0 : 0.3).ToArray();
        var (mse, gMse) = LayerReference.Mse(p, t);
        var (bce, gBce) = LayerReference.BceWithLogits(p, y01);
        var fd = new Compare.Report(1e-8);
        fd.Check("mse vs finite differences", gMse, FiniteDifferences.Gradient(p, () => LayerReference.Mse(p, t).Loss));
        fd.Check("bce vs finite differences", gBce, FiniteDifferences.Gradient(p, () => LayerReference.BceWithLogits(p, y01).Loss));
        fd.AssertAll();

        var dm = new Tensor(11);
        var db = new Tensor(11);
        float lm = MseLoss.Forward(Tensor.FromArray(F(p), 11), Tensor.FromArray(F(t), 11), dm);
        float lb = BceWithLogitsLoss.Forward(Tensor.FromArray(F(p), 11), Tensor.FromArray(F(y01), 11), db);
        var report = new Compare.Report(2e-6);
        report.Check("mse", new[] { lm }, new[] { mse });
        report.Check("dmse", dm.Span, gMse);
        report.Check("bce", new[] { lb }, new[] { bce });
        report.Check("dbce", db.Span, gBce);
        report.AssertAll();
    }

    [Fact]
    public void BceWithLogitsIsStableForLargeLogits()
    {
        var x = Tensor.FromArray([100f, -100f, 80f], 3);
        var y = Tensor.FromArray([1f, 0f, 0f], 3);
        float l = BceWithLogitsLoss.Forward(x, y);
        Assert.Equal(80f / 3, l, 1e-4f);
    }
}

public class SoftmaxStabilityTests
{
    [Fact]
    public void SoftmaxOfLargeLogitsIsFiniteAndCorrect()
    {
        var y = Activations.Softmax(Tensor.FromArray([1000f, 1000f + MathF.Log(3f), -1000f], 1, 3)).Output;
        Assert.Equal(0.25f, y[0, 0], 5);
        Assert.Equal(0.75f, y[0, 1], 5);
        Assert.Equal(0f, y[0, 2]);
    }
}
