using Recur.Tensors;

namespace Recur.Nn;

/// <summary>The result of an <see cref="Activations"/> forward: the output y, from which the backward is computed.</summary>
public sealed class ActivationOutput
{
    private readonly Func<Tensor, Tensor, Tensor> backward;

    internal ActivationOutput(Tensor output, Func<Tensor, Tensor, Tensor> backward)
    {
        Output = output;
        this.backward = backward;
    }

    /// <summary>y, the shape of the input.</summary>
    public Tensor Output { get; }

    /// <summary>dx from dy = dL/dy (the shape of <see cref="Output"/>); the formula is the activation's (see <see cref="Activations"/>).</summary>
    public Tensor Backward(Tensor dOutput) => backward(Output, dOutput);
}
