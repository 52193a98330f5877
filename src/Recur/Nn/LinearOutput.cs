using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// The result of <see cref="Linear.Forward"/>: the output y (..., out) and the input x it was computed from, which is
/// all the backward needs.
/// </summary>
public sealed class LinearOutput
{
    private readonly Linear layer;

    internal LinearOutput(Linear layer, Tensor input, Tensor output)
    {
        this.layer = layer;
        Input = input;
        Output = output;
    }

    /// <summary>x, (..., in), as given to the forward (not copied: do not change it before backward).</summary>
    public Tensor Input { get; }

    /// <summary>y = x W^T + b, (..., out).</summary>
    public Tensor Output { get; }

    /// <summary>Adds dW += dy^T x and db += sum(dy) to the layer's gradients and returns dx = dy W, (..., in).</summary>
    /// <param name="dOutput">dL/dy, the shape of <see cref="Output"/>.</param>
    public Tensor Backward(Tensor dOutput) => layer.Backward(Input, dOutput, inputGrad: true)!;

    /// <summary>
    /// Adds dW and db like <see cref="Backward"/> but skips dx, for an input that needs no gradient (data, or the
    /// first layer of a network).
    /// </summary>
    public void BackwardToParameters(Tensor dOutput) => layer.Backward(Input, dOutput, inputGrad: false);
}
