using Recur.Tensors;

namespace Recur.Nn;

/// <summary>Mean squared error, as <c>torch.nn.functional.mse_loss</c>: mean((pred - target)^2); gradient 2 (pred - target) / N.</summary>
public static class MseLoss
{
    /// <summary>The mean loss; <paramref name="dPrediction"/>, when given, is overwritten with the gradient.</summary>
    public static float Forward(Tensor prediction, Tensor target, Tensor? dPrediction = null)
    {
        LossChecks.SameShape(prediction, target, nameof(target));
        if (dPrediction is not null) LossChecks.SameShape(prediction, dPrediction, nameof(dPrediction));
        LossChecks.Finite(prediction, nameof(prediction));
        LossChecks.Finite(target, nameof(target));
        int n = prediction.Length;
        if (n == 0) return 0f;
        var p = prediction.Span;
        var t = target.Span;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double e = (double)p[i] - t[i];
            sum += e * e;
        }
        if (dPrediction is not null)
        {
            var d = dPrediction.Span;
            TensorPrimitives.Subtract(p, t, d);
            TensorPrimitives.Multiply(d, 2f / n, d);
        }
        return (float)(sum / n);
    }
}

/// <summary>
/// Binary cross-entropy on logits, as <c>torch.nn.functional.binary_cross_entropy_with_logits</c> (mean):
/// loss = mean(max(x, 0) - x y + log(1 + e^-|x|)), the overflow-free form; gradient (sigmoid(x) - y) / N.
/// </summary>
public static class BceWithLogitsLoss
{
    /// <summary>The mean loss; <paramref name="dLogits"/>, when given, is overwritten with the gradient. Targets must be in [0, 1].</summary>
    public static float Forward(Tensor logits, Tensor target, Tensor? dLogits = null)
    {
        LossChecks.SameShape(logits, target, nameof(target));
        if (dLogits is not null) LossChecks.SameShape(logits, dLogits, nameof(dLogits));
        LossChecks.Finite(logits, nameof(logits));
        var x = logits.Span;
        var y = target.Span;
        for (int i = 0; i < y.Length; i++)
            if (!(y[i] >= 0f && y[i] <= 1f))
                throw new ArgumentOutOfRangeException(nameof(target), y[i], $"target[{i}] must be in [0, 1], got {y[i]}");
        int n = x.Length;
        if (n == 0) return 0f;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double xi = x[i];
            sum += Math.Max(xi, 0) - xi * y[i] + Math.Log(1 + Math.Exp(-Math.Abs(xi)));
        }
        if (dLogits is not null)
        {
            var d = dLogits.Span;
            TensorPrimitives.Sigmoid(x, d);
            TensorPrimitives.Subtract(d, y, d);
            TensorPrimitives.Multiply(d, 1f / n, d);
        }
        return (float)(sum / n);
    }
}

internal static class LossChecks
{
    public static void SameShape(Tensor a, Tensor b, string name)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b, name);
        if (!a.SameShape(b.Shape))
            throw new ArgumentException($"{name} must have shape {Tensor.ShapeString(a.Shape)}, got {Tensor.ShapeString(b.Shape)}", name);
    }

    public static void Finite(Tensor t, string name)
    {
        if (!TensorPrimitives.IsFiniteAll<float>(t.Span))
            throw new ArgumentException($"{name} contains NaN or infinity", name);
    }
}
