using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Elementwise activations and softmax, forward and backward, on <see cref="TensorPrimitives"/>.
/// Each forward returns an <see cref="ActivationOutput"/> holding y, which is all its backward needs.
/// </summary>
public static class Activations
{
    /// <summary>y = 1 / (1 + e^-x); backward dx = dy * y (1 - y).</summary>
    public static ActivationOutput Sigmoid(Tensor x) => new(Map(x, static (s, d) => TensorPrimitives.Sigmoid(s, d)), SigmoidBackward);

    /// <summary>y = tanh(x); backward dx = dy (1 - y^2).</summary>
    public static ActivationOutput Tanh(Tensor x) => new(Map(x, static (s, d) => TensorPrimitives.Tanh(s, d)), TanhBackward);

    /// <summary>y = max(x, 0); backward dx = dy where y &gt; 0, else 0.</summary>
    public static ActivationOutput Relu(Tensor x) => new(Map(x, static (s, d) => TensorPrimitives.Max(s, 0f, d)), ReluBackward);

    /// <summary>Softmax over the last dimension: y_i = e^(x_i - max) / sum_j e^(x_j - max); backward dx = y * (dy - sum(dy * y)) per row.</summary>
    public static ActivationOutput Softmax(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        int c = x.Dim(-1);
        var y = new Tensor(x.Shape.ToArray());
        var xs = x.Span;
        var ys = y.Span;
        for (int r = 0; r < x.Length / Math.Max(1, c); r++)
            SoftmaxRow(xs.Slice(r * c, c), ys.Slice(r * c, c));
        return new ActivationOutput(y, SoftmaxBackward);
    }

    /// <summary>
    /// Softmax of one row with the maximum subtracted first. (TensorPrimitives.SoftMax exponentiates the raw values,
    /// so any input above ~88 overflows to infinity and the row becomes NaN.)
    /// </summary>
    public static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.IsEmpty) return;
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        TensorPrimitives.Divide(y, TensorPrimitives.Sum<float>(y), y);
    }

    /// <summary>dx = dy * y (1 - y).</summary>
    private static Tensor SigmoidBackward(Tensor y, Tensor dy)
    {
        var dx = Like(y, dy);
        var t = new float[y.Length];
        TensorPrimitives.Subtract(1f, y.Span, t);        // 1 - y
        TensorPrimitives.Multiply(t, y.Span, t);         // y (1 - y)
        TensorPrimitives.Multiply(dy.Span, t, dx.Span);
        return dx;
    }

    /// <summary>dx = dy (1 - y^2).</summary>
    private static Tensor TanhBackward(Tensor y, Tensor dy)
    {
        var dx = Like(y, dy);
        var t = new float[y.Length];
        TensorPrimitives.Multiply(y.Span, y.Span, t);    // y^2
        TensorPrimitives.Subtract(1f, t, t);             // 1 - y^2
        TensorPrimitives.Multiply(dy.Span, t, dx.Span);
        return dx;
    }

    /// <summary>dx = dy where y &gt; 0, else 0.</summary>
    private static Tensor ReluBackward(Tensor y, Tensor dy)
    {
        var dx = Like(y, dy);
        var ys = y.Span;
        var dys = dy.Span;
        var d = dx.Span;
        for (int i = 0; i < d.Length; i++) d[i] = ys[i] > 0f ? dys[i] : 0f;
        return dx;
    }

    /// <summary>dx = y * (dy - sum(dy * y)) per row of the last dimension.</summary>
    private static Tensor SoftmaxBackward(Tensor y, Tensor dy)
    {
        var dx = Like(y, dy);
        int c = y.Dim(-1);
        var ys = y.Span;
        var dys = dy.Span;
        var d = dx.Span;
        for (int r = 0; r < y.Length / Math.Max(1, c); r++)
        {
            var yr = ys.Slice(r * c, c);
            var dyr = dys.Slice(r * c, c);
            var dr = d.Slice(r * c, c);
            float dot = TensorPrimitives.Dot(dyr, yr);
            TensorPrimitives.Subtract(dyr, dot, dr);
            TensorPrimitives.Multiply(dr, yr, dr);
        }
        return dx;
    }

    private static Tensor Map(Tensor x, SpanAction f)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = new Tensor(x.Shape.ToArray());
        f(x.Span, y.Span);
        return y;
    }

    private delegate void SpanAction(ReadOnlySpan<float> source, Span<float> destination);

    private static Tensor Like(Tensor y, Tensor dy)
    {
        ArgumentNullException.ThrowIfNull(y);
        LossChecks.SameShape(y, dy, nameof(dy));
        return new Tensor(y.Shape.ToArray());
    }
}
