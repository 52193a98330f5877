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

    /// <summary>Applies dropout; the result holds the mask (null when inactive) that its backward needs.</summary>
    public DropoutOutput Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!Training || P == 0f) return new DropoutOutput(input.Clone(), null);
        var mask = new Tensor(input.Shape.ToArray());
        var m = mask.Span;
        float scale = 1f / (1f - P);
        for (int i = 0; i < m.Length; i++) m[i] = rng.NextFloat() < P ? 0f : scale;
        var y = new Tensor(input.Shape.ToArray());
        TensorPrimitives.Multiply(input.Span, m, y.Span);
        return new DropoutOutput(y, mask);
    }
}
