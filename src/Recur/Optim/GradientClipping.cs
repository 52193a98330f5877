using Recur.Tensors;

namespace Recur.Optim;

/// <summary>
/// Gradient clipping, the cure for exploding gradients: by global 2-norm as <c>torch.nn.utils.clip_grad_norm_</c>
/// (returns the norm before clipping) and by value as <c>clip_grad_value_</c>.
/// </summary>
/// <remarks>
/// When the parameters are exactly a <see cref="ParameterArena"/> (an optimizer's <see cref="Optimizer.Parameters"/>,
/// a module's after <c>EnsureArena</c>), each operation is one loop over the arena's gradient buffer; other lists are
/// handled one parameter at a time. Scaling and clamping give the same bits either way; the norm sums the squares in
/// float over blocks of <see cref="NormBlock"/> consecutive gradients and adds the block sums in float64, so its last
/// bits depend on where the blocks fall (over the whole arena, or within each parameter).
/// </remarks>
public static class GradientClipping
{
    /// <summary>Gradients per block of the norm's float sums (the block sums are added in float64).</summary>
    public const int NormBlock = 4096;

    /// <summary>
    /// Scales all gradients by min(1, maxNorm / (norm + 1e-6)) where norm is the 2-norm over every gradient together.
    /// Returns that norm (before clipping); it is NaN or infinity when a gradient is, and nothing is scaled then.
    /// </summary>
    public static float ClipByNorm(IEnumerable<Parameter> parameters, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0f) || !float.IsFinite(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be finite and > 0");
        var ps = parameters as IReadOnlyList<Parameter> ?? parameters.ToArray();
        float norm = GlobalNorm(ps);
        if (!float.IsFinite(norm)) return norm;
        float coef = maxNorm / (norm + 1e-6f);
        if (coef < 1f) Scale(ps, coef);
        return norm;
    }

    /// <summary>
    /// The 2-norm of all gradients together: float sums of squares over blocks of <see cref="NormBlock"/>, added in
    /// float64. NaN or infinity when a gradient is (so it doubles as the finiteness check of a step).
    /// </summary>
    public static float GlobalNorm(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (ParameterArena.Exact(parameters) is { } arena) return (float)Math.Sqrt(SumOfSquares(arena.Grads));
        double sum = 0;
        foreach (var p in parameters) sum += SumOfSquares(p.Grad.Span);
        return (float)Math.Sqrt(sum);
    }

    /// <summary>Clamps every gradient element to [-clipValue, clipValue].</summary>
    public static void ClipByValue(IEnumerable<Parameter> parameters, float clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue > 0f) || !float.IsFinite(clipValue))
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "clipValue must be finite and > 0");
        if (ParameterArena.Exact(parameters) is { } arena) TensorPrimitives.Clamp(arena.Grads, -clipValue, clipValue, arena.Grads);
        else foreach (var p in parameters) TensorPrimitives.Clamp(p.Grad.Span, -clipValue, clipValue, p.Grad.Span);
    }

    /// <summary>Multiplies every gradient by <paramref name="factor"/> (averaging accumulated gradients, clipping).</summary>
    public static void Scale(IEnumerable<Parameter> parameters, float factor)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (ParameterArena.Exact(parameters) is { } arena) TensorPrimitives.Multiply(arena.Grads, factor, arena.Grads);
        else foreach (var p in parameters) TensorPrimitives.Multiply(p.Grad.Span, factor, p.Grad.Span);
    }

    /// <summary>Sum of squares: float within blocks of <see cref="NormBlock"/>, float64 across them.</summary>
    private static double SumOfSquares(ReadOnlySpan<float> g)
    {
        double sum = 0;
        for (int i = 0; i < g.Length; i += NormBlock)
            sum += TensorPrimitives.SumOfSquares(g.Slice(i, Math.Min(NormBlock, g.Length - i)));
        return sum;
    }
}
