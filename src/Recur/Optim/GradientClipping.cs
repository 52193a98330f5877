using Recur.Tensors;

namespace Recur.Optim;

/// <summary>
/// Gradient clipping, the cure for exploding gradients: by global 2-norm as <c>torch.nn.utils.clip_grad_norm_</c>
/// (returns the norm before clipping) and by value as <c>clip_grad_value_</c>.
/// </summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients by min(1, maxNorm / (norm + 1e-6)) where norm is the 2-norm over every gradient together.
    /// Returns that norm (before clipping); it is NaN or infinity when a gradient is, and nothing is scaled then.
    /// </summary>
    public static float ClipByNorm(IEnumerable<Parameter> parameters, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0f) || !float.IsFinite(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be finite and > 0");
        var ps = parameters.ToArray();
        float norm = GlobalNorm(ps);
        if (!float.IsFinite(norm)) return norm;
        float coef = maxNorm / (norm + 1e-6f);
        if (coef < 1f)
            foreach (var p in ps) TensorPrimitives.Multiply(p.Grad.Span, coef, p.Grad.Span);
        return norm;
    }

    /// <summary>The 2-norm of all gradients together (accumulated in float64).</summary>
    public static float GlobalNorm(IEnumerable<Parameter> parameters)
    {
        double sum = 0;
        foreach (var p in parameters)
        {
            double n = TensorPrimitives.Norm<float>(p.Grad.Span);
            sum += n * n;
        }
        return (float)Math.Sqrt(sum);
    }

    /// <summary>Clamps every gradient element to [-clipValue, clipValue].</summary>
    public static void ClipByValue(IEnumerable<Parameter> parameters, float clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue > 0f) || !float.IsFinite(clipValue))
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "clipValue must be finite and > 0");
        foreach (var p in parameters) TensorPrimitives.Clamp(p.Grad.Span, -clipValue, clipValue, p.Grad.Span);
    }
}
