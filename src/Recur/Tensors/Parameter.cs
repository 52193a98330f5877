
namespace Recur.Tensors;

/// <summary>
/// A trainable tensor and the gradient accumulated into it by backward passes. Both are allocated on their own when
/// a module registers the parameter; once the model's parameters are gathered into a <see cref="ParameterArena"/>
/// (an optimizer does it), they are views of its slices: the tensors stay the same objects with the same shape.
/// </summary>
public sealed class Parameter
{
    internal Parameter(string name, int[] shape)
    {
        Name = name;
        Value = new Tensor(shape);
        Grad = new Tensor(shape);
    }

    /// <summary>The name inside its module, in PyTorch's spelling (e.g. <c>weight_ih_l0</c>).</summary>
    public string Name { get; }

    /// <summary>The values.</summary>
    public Tensor Value { get; }

    /// <summary>The gradient; backward passes add to it (<c>+=</c>), <c>Module.ZeroGrad</c> (Recur.Nn) clears it.</summary>
    public Tensor Grad { get; }

    /// <summary>
    /// Whether training updates this parameter (PyTorch's <c>requires_grad</c>; default true). A frozen parameter
    /// (false) keeps its values: layers that honour it add nothing to its gradient, and an optimizer should be built over
    /// the parameters that require gradients only (as <c>filter(lambda p: p.requires_grad, model.parameters())</c>),
    /// so that weight decay does not move it either.
    /// </summary>
    public bool RequiresGrad { get; set; } = true;

    /// <summary>
    /// Raised after a backward pass has finished adding one contribution to <see cref="Grad"/> (PyTorch's
    /// <c>register_post_accumulate_grad_hook</c>): each layer raises it once per backward call for every parameter it
    /// added to, on the thread that runs the backward pass. A parameter used by k layers (a weight tied between an
    /// embedding and an output layer) hears it k times per pass. Data-parallel training starts reducing a bucket of
    /// gradients when every parameter in it has heard it as often as in a whole pass (Recur.Training.GradientBuckets).
    /// </summary>
    public event Action<Parameter>? GradientAccumulated;

    /// <summary>Raises <see cref="GradientAccumulated"/>: called by layers at the end of their backward pass.</summary>
    internal void OnGradientAccumulated() => GradientAccumulated?.Invoke(this);

    /// <summary>The arena whose buffers hold <see cref="Value"/> and <see cref="Grad"/>, or null while they have storage of their own.</summary>
    public ParameterArena? Arena { get; internal set; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Tensor.ShapeString(Value.Shape)}";
}
