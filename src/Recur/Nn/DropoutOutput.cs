using Recur.Tensors;

namespace Recur.Nn;

/// <summary>The result of <see cref="Dropout.Forward"/>: the output and the mask its backward multiplies by.</summary>
public sealed class DropoutOutput
{
    internal DropoutOutput(Tensor output, Tensor? mask)
    {
        Output = output;
        Mask = mask;
    }

    /// <summary>y = x * mask (a copy of x when dropout was inactive).</summary>
    public Tensor Output { get; }

    /// <summary>0 for a dropped element, 1/(1-p) for a kept one; null when dropout was inactive (evaluation mode or p = 0).</summary>
    public Tensor? Mask { get; }

    /// <summary>dx = dy * mask (a copy of dy when the mask is null).</summary>
    public Tensor Backward(Tensor dOutput)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        if (Mask is null) return dOutput.Clone();
        LossChecks.SameShape(Mask, dOutput, nameof(dOutput));
        var dx = new Tensor(dOutput.Shape.ToArray());
        TensorPrimitives.Multiply(dOutput.Span, Mask.Span, dx.Span);
        return dx;
    }
}
