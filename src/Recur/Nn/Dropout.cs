using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Inverted dropout, as <c>torch.nn.Dropout</c>: in training mode each element is zeroed with probability p and the
/// rest scaled by 1/(1-p); in evaluation mode it is the identity. Masks come from the layer's own seeded stream.
/// </summary>
public sealed class Dropout : Module
{
    private readonly Rng rng;

    /// <summary>Creates the layer with drop probability <paramref name="p"/> in [0, 1).</summary>
    public Dropout(float p, Rng? rng = null)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1)");
        P = p;
        this.rng = AddRng("rng", (rng ?? new Rng(0)).Split());
    }

    /// <summary>Drop probability.</summary>
    public float P { get; }

    /// <summary>Applies dropout; the returned mask (null when inactive) is what <see cref="Backward"/> needs.</summary>
    public (Tensor Output, Tensor? Mask) Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!Training || P == 0f) return (input.Clone(), null);
        var mask = new Tensor(input.Shape.ToArray());
        var m = mask.Span;
        float scale = 1f / (1f - P);
        for (int i = 0; i < m.Length; i++) m[i] = rng.NextFloat() < P ? 0f : scale;
        var y = new Tensor(input.Shape.ToArray());
        TensorPrimitives.Multiply(input.Span, m, y.Span);
        return (y, mask);
    }

    /// <summary>dx = dy * mask (dy itself when the mask is null).</summary>
    public static Tensor Backward(Tensor? mask, Tensor dOutput)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        if (mask is null) return dOutput.Clone();
        LossChecks.SameShape(mask, dOutput, nameof(dOutput));
        var dx = new Tensor(dOutput.Shape.ToArray());
        TensorPrimitives.Multiply(dOutput.Span, mask.Span, dx.Span);
        return dx;
    }
}
